/**
 * The configuration of a TTT model: {@link ai.djl.ttt.config.TttConfig} (every hyper-parameter with
 * its official {@code config.json} key, default and validation; presets) and {@link
 * ai.djl.ttt.config.LayerType}. Knows nothing of blocks or files other than {@code config.json}.
 */
package ai.djl.ttt.config;
