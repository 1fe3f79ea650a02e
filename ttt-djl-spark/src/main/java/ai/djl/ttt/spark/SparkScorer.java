package ai.djl.ttt.spark;

import ai.djl.inference.Predictor;
import ai.djl.ttt.zoo.TextScore;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * Scores every text of a {@code Dataset<Row>} with a ttt-djl language model: adds the text's
 * log-likelihood (nats, summed over every token after the first), its token count and its bits per
 * UTF-8 byte, plus an error column. Each executor loads the model once ({@link ExecutorModels}) and
 * scores each partition through one {@code Predictor}, {@code batchSize} rows per {@code
 * batchPredict}; the scores are those of the zoo's scoring translator ({@link TextScore}).
 *
 * <pre>{@code
 * Dataset<Row> scored = SparkScorer.builder()
 *         .setModel("models/ttt-linear-mamba-small")   // or an --archives name
 *         .optInputCol("text")
 *         .build()
 *         .transform(texts);
 * // columns: the input's, log_likelihood, tokens, bits_per_byte, error
 * }</pre>
 *
 * A row whose text is null, empty, shorter than 2 tokens or longer than {@code maxTokens}, or whose
 * prediction fails, gets null scores and a message in the error column; the job goes on.
 */
public final class SparkScorer {

    private final RowOptions options;
    private final String inputCol;
    private final String logLikelihoodCol;
    private final String tokensCol;
    private final String bitsPerByteCol;
    private final String errorCol;

    private SparkScorer(Builder b) {
        options = b.options();
        inputCol = b.inputCol;
        logLikelihoodCol = b.logLikelihoodCol;
        tokensCol = b.tokensCol;
        bitsPerByteCol = b.bitsPerByteCol;
        errorCol = b.errorCol;
    }

    /**
     * Returns a builder.
     *
     * @return a new builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Adds the score columns to a dataset (lazily: Spark runs it with the next action).
     *
     * @param texts a dataset with a string column of texts
     * @return the dataset with {@code log_likelihood} (double), {@code tokens} (int), {@code
     *     bits_per_byte} (double) and {@code error} (string) appended, under the configured names
     * @throws IllegalArgumentException if the text column is missing or not a string, or an output
     *     column exists already
     */
    public Dataset<Row> transform(Dataset<Row> texts) {
        StructType schema = texts.schema();
        int textIndex =
                BaseBuilder.textIndex(
                        schema, inputCol, logLikelihoodCol, tokensCol, bitsPerByteCol, errorCol);
        StructType out =
                schema.add(logLikelihoodCol, DataTypes.DoubleType, true)
                        .add(tokensCol, DataTypes.IntegerType, true)
                        .add(bitsPerByteCol, DataTypes.DoubleType, true)
                        .add(errorCol, DataTypes.StringType, true);
        return texts.mapPartitions(new ScoringJob(options, textIndex), Encoders.row(out));
    }

    /** Scoring on the executors. */
    private static final class ScoringJob extends PartitionJob<String, TextScore> {

        private static final long serialVersionUID = 1L;

        ScoringJob(RowOptions options, int textIndex) {
            super(options, textIndex);
        }

        @Override
        Predictor<String, TextScore> newPredictor(ExecutorModels.Loaded loaded) {
            return loaded.model().newPredictor();
        }

        @Override
        int minTokens() {
            return 2; // the first token has no prediction to score
        }

        @Override
        String input(Row row, String text) {
            return text;
        }

        @Override
        Object[] values(TextScore score) {
            return new Object[] {
                score.totalLogLikelihood(), score.tokens().length, score.bitsPerByte()
            };
        }

        @Override
        int width() {
            return 3;
        }
    }

    /** Configures a {@link SparkScorer}. */
    public static final class Builder extends BaseBuilder<Builder> {

        String logLikelihoodCol = "log_likelihood";
        String tokensCol = "tokens";
        String bitsPerByteCol = "bits_per_byte";

        Builder() {}

        /** {@inheritDoc} */
        @Override
        protected Builder self() {
            return this;
        }

        /**
         * Sets the column of the log-likelihood, in nats (default {@code log_likelihood}).
         *
         * @param column the column name
         * @return this builder
         */
        public Builder optLogLikelihoodCol(String column) {
            this.logLikelihoodCol = column;
            return this;
        }

        /**
         * Sets the column of the token count (default {@code tokens}).
         *
         * @param column the column name
         * @return this builder
         */
        public Builder optTokensCol(String column) {
            this.tokensCol = column;
            return this;
        }

        /**
         * Sets the column of the bits per byte (default {@code bits_per_byte}).
         *
         * @param column the column name
         * @return this builder
         */
        public Builder optBitsPerByteCol(String column) {
            this.bitsPerByteCol = column;
            return this;
        }

        /**
         * Builds the scorer.
         *
         * @return the scorer
         * @throws IllegalArgumentException if no model is set, or a number is out of range
         */
        public SparkScorer build() {
            return new SparkScorer(this);
        }
    }
}
