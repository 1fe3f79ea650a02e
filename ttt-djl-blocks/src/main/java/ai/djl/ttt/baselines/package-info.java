/**
 * The sequence layers TTT is compared with, on the same scaffold: causal softmax attention ({@link
 * ai.djl.ttt.baselines.CausalSelfAttention}, with its {@link ai.djl.ttt.baselines.KvCache}) and
 * causal linear attention ({@link ai.djl.ttt.baselines.LinearAttention}, with its {@link
 * ai.djl.ttt.baselines.LinearAttentionState}).
 */
package ai.djl.ttt.baselines;
