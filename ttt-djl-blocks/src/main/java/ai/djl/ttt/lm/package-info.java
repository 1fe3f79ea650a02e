/**
 * Causal language models built of TTT layers (or the attention baseline) — {@link
 * ai.djl.ttt.lm.CausalLm} — their decode state, and text generation ({@link
 * ai.djl.ttt.lm.Generator}).
 */
package ai.djl.ttt.lm;
