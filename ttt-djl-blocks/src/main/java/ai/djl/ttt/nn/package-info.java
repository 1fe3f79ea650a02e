/**
 * The TTT layers as DJL blocks — {@link ai.djl.ttt.nn.TttLinear}, {@link ai.djl.ttt.nn.TttMlp} and
 * their base {@link ai.djl.ttt.nn.TttLayer} — their recurrent {@link ai.djl.ttt.nn.TttState}, the
 * small blocks a TTT language model needs (RMSNorm, SwiGLU, causal convolution), and {@link
 * ai.djl.ttt.nn.NoGrad} for inference on threads where libtorch records gradients by default.
 */
package ai.djl.ttt.nn;
