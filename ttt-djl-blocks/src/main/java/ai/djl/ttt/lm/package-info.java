/**
 * Causal language models built of any sequence layer — {@link ai.djl.ttt.lm.CausalLm}, whose blocks
 * get their layer from {@link ai.djl.ttt.lm.SequenceLayers} (the one switch on the layer type) —
 * their decode state, and text generation ({@link ai.djl.ttt.lm.Generator}).
 */
package ai.djl.ttt.lm;
