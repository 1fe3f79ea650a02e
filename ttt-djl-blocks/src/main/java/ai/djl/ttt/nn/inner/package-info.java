/**
 * The inner loop of a TTT layer as plain NDArray functions: the inner model and its dual and primal
 * steps ({@link ai.djl.ttt.nn.inner.InnerModel}), the loop over mini-batches ({@link
 * ai.djl.ttt.nn.inner.Scan}), the LayerNorm + L2 gradient and tanh-GELU ({@link
 * ai.djl.ttt.nn.inner.InnerMath}), and RoPE. Knows nothing of blocks or parameters.
 */
package ai.djl.ttt.nn.inner;
