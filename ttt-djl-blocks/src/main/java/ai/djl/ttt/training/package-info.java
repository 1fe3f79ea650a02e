/**
 * Training language models with DJL's {@code Trainer}: tokenizers, corpora, the token-window
 * dataset, the loss, AdamW with a decay mask, clipping, listeners, checkpoints ({@link
 * ai.djl.ttt.training.LmTraining}, {@link ai.djl.ttt.training.ModelDirectory}).
 */
package ai.djl.ttt.training;
