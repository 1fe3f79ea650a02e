/**
 * Official weights and configs: state dicts in {@code .safetensors}/{@code .npz}, the official
 * parameter names ({@link ai.djl.ttt.io.OfficialWeights}), and parity checks against tensors made
 * by the official code ({@link ai.djl.ttt.io.ParityCheck}).
 */
package ai.djl.ttt.io;
