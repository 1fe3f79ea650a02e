/**
 * The TTT layers as DJL blocks — {@link ai.djl.ttt.nn.TttLinear}, {@link ai.djl.ttt.nn.TttMlp} and
 * their base {@link ai.djl.ttt.nn.TttLayer} — their recurrent {@link ai.djl.ttt.nn.TttState}, and
 * the small blocks a TTT language model needs (RMSNorm, SwiGLU, causal convolution).
 */
package ai.djl.ttt.nn;
