/**
 * The inner loop of a TTT layer as plain NDArray functions. The seam where inner models and inner
 * learners plug in: {@link ai.djl.ttt.nn.inner.InnerModel} (implemented by {@link
 * ai.djl.ttt.nn.inner.DenseChain}: TTT-Linear, TTT-MLP of any depth), {@link
 * ai.djl.ttt.nn.inner.InnerOptimizer} (the inner learning rule) and {@link
 * ai.djl.ttt.nn.inner.ReconstructionLoss}; the loop over mini-batches ({@link
 * ai.djl.ttt.nn.inner.Scan}); the LayerNorm + L2 gradient and tanh-GELU ({@link
 * ai.djl.ttt.nn.inner.InnerMath}), and RoPE. Knows nothing of blocks.
 */
package ai.djl.ttt.nn.inner;
