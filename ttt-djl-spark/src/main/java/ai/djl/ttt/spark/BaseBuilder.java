package ai.djl.ttt.spark;

/**
 * The builder settings that {@link SparkScorer} and {@link SparkGenerator} share: the model, the
 * text column, the error column, the batch size and the length limit. A builder is the DJL-style
 * way to make a stage; it sets the same {@code Params} as the stage's own setters (Spark ML's
 * style), checks each value at once, and {@code build()} also checks that the settings are complete
 * (a model is set) and go together, so that a bad stage fails where it is made.
 *
 * @param <T> the concrete builder
 */
public abstract class BaseBuilder<T extends BaseBuilder<T>> {

    /** The default rows per {@code batchPredict} call. */
    public static final int DEFAULT_BATCH_SIZE = TextTransformer.DEFAULT_BATCH_SIZE;

    /** The default longest text, in tokens. */
    public static final int DEFAULT_MAX_TOKENS = TextTransformer.DEFAULT_MAX_TOKENS;

    private final TextTransformer<?> stage;

    /**
     * Creates a builder that collects its settings on a stage.
     *
     * @param stage a new stage with the defaults
     */
    BaseBuilder(TextTransformer<?> stage) {
        this.stage = stage;
    }

    /**
     * Returns this builder.
     *
     * @return this
     */
    protected abstract T self();

    /**
     * Sets the model directory: a path every executor can read, or the name of an archive shipped
     * with {@code --archives} (see {@link ModelLocation}).
     *
     * @param location the path or archive name
     * @return this builder
     * @throws IllegalArgumentException if the location is null or blank
     */
    public T setModel(String location) {
        stage.setModel(location);
        return self();
    }

    /**
     * Sets the string column that holds the texts (default {@code text}).
     *
     * @param column the column name
     * @return this builder
     */
    public T optInputCol(String column) {
        stage.setInputCol(column);
        return self();
    }

    /**
     * Sets the column that receives a row's error message, null when the row succeeded (default
     * {@code error}).
     *
     * @param column the column name
     * @return this builder
     */
    public T optErrorCol(String column) {
        stage.setErrorCol(column);
        return self();
    }

    /**
     * Sets how many rows go to the model per {@code batchPredict} call (default {@value
     * #DEFAULT_BATCH_SIZE}); see {@link TextTransformer#setBatchSize}.
     *
     * @param size rows per call, at least 1
     * @return this builder
     * @throws IllegalArgumentException if the size is below 1
     */
    public T optBatchSize(int size) {
        stage.setBatchSize(size);
        return self();
    }

    /**
     * Sets the longest text a row may have, in tokens (default {@value #DEFAULT_MAX_TOKENS}); see
     * {@link TextTransformer#setMaxTokens}.
     *
     * @param tokens the limit, at least 1
     * @return this builder
     * @throws IllegalArgumentException if the limit is below 1
     */
    public T optMaxTokens(int tokens) {
        stage.setMaxTokens(tokens);
        return self();
    }
}
