/**
 * ttt-djl: Test-Time Training layers (arXiv 2407.04620) for the Deep Java Library. This package
 * holds {@link ai.djl.ttt.TttConfig}, every hyper-parameter of the official {@code TTTConfig}.
 *
 * <p>Packages, in the direction data and dependencies flow: {@code nn.inner} (the inner loop as
 * NDArray functions), {@code nn} (the TTT layers as DJL blocks), {@code lm} (language models and
 * generation), {@code io} (official weights, parity), {@code training} (the training recipe),
 * {@code zoo} (DJL model zoo and translators).
 */
package ai.djl.ttt;
