/**
 * ttt-djl: Test-Time Training layers (arXiv 2407.04620) for the Deep Java Library.
 *
 * <p>Packages, in the direction dependencies flow: {@code runtime} (engine policy: threads, grad
 * mode, scopes) and {@code config} (the configuration) at the bottom; {@code nn.inner} (the inner
 * loop: inner model, inner optimizer, reconstruction loss, scan); {@code nn} (the TTT layers as DJL
 * blocks); {@code baselines} (attention, linear attention); {@code lm} (language models,
 * generation); {@code io} (official weights, parity); {@code training} (the training recipe);
 * {@code recall} (the recall task); {@code zoo} (DJL model zoo and translators).
 */
package ai.djl.ttt;
