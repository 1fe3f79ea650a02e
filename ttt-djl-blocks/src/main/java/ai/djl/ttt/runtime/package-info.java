/**
 * Engine and runtime policy, apart from the math: intra-op threads for the scan and the decode step
 * ({@link ai.djl.ttt.runtime.ScanThreads}), autograd off on a thread ({@link
 * ai.djl.ttt.runtime.NoGrad}), native-memory scopes ({@link ai.djl.ttt.runtime.Scopes}) and atomic
 * file writes ({@link ai.djl.ttt.runtime.AtomicFiles}). Depends on nothing else of ttt-djl.
 */
package ai.djl.ttt.runtime;
