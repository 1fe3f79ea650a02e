package ai.djl.ttt.spark;

import java.io.Serializable;

/**
 * What a scoring or generation job needs on the executors besides its own settings; travels with
 * the job's closure.
 *
 * @param location where the model directory is
 * @param batchSize rows per {@code batchPredict} call
 * @param maxTokens the longest text, in tokens, a row may have; longer rows get an error
 */
record RowOptions(ModelLocation location, int batchSize, int maxTokens) implements Serializable {}
