/**
 * The TTT layers as DJL blocks — {@link ai.djl.ttt.nn.TttLinear}, {@link ai.djl.ttt.nn.TttMlp} and
 * their base {@link ai.djl.ttt.nn.TttLayer} — their recurrent {@link ai.djl.ttt.nn.TttState}, the
 * contract every sequence layer follows ({@link ai.djl.ttt.nn.SequenceLayer}, {@link
 * ai.djl.ttt.nn.LayerState}), the inner-loss {@link ai.djl.ttt.nn.InnerLossRecorder}, and the small
 * blocks a TTT language model needs (RMSNorm, SwiGLU, causal convolution).
 */
package ai.djl.ttt.nn;
