package ai.djl.ttt.spark;

import ai.djl.inference.Predictor;
import ai.djl.ttt.zoo.TextScore;
import java.util.List;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.ml.util.DefaultParamsReader;
import org.apache.spark.ml.util.Identifiable$;
import org.apache.spark.ml.util.MLReader;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * A Spark ML {@code Transformer} that scores every text of a dataset with a ttt-djl language model:
 * adds the text's log-likelihood (nats, summed over every token after the first), its token count
 * and its bits per UTF-8 byte, plus an error column. Each executor loads the model once ({@link
 * ExecutorModels}) and scores each partition through one {@code Predictor}, {@code batchSize} rows
 * per {@code batchPredict}; the scores are those of the zoo's scoring translator ({@link
 * TextScore}).
 *
 * <pre>{@code
 * SparkScorer scorer = new SparkScorer()
 *         .setModel("models/ttt-linear-mamba-small")   // or an --archives name
 *         .setInputCol("text");
 * Dataset<Row> scored = scorer.transform(texts);         // or a stage of a Pipeline
 * // columns: the input's, log_likelihood, tokens, bits_per_byte, error
 * }</pre>
 *
 * {@link #builder()} makes the same stage the DJL way. A row whose text is null, empty, shorter
 * than 2 tokens or longer than {@code maxTokens}, or whose prediction fails, gets null scores and a
 * message in the error column; the job goes on. The stage has no state but its params: {@code
 * DefaultParamsWritable} saves it with its pipeline, {@link #load} reads it back.
 */
public final class SparkScorer extends TextTransformer<SparkScorer> {

    private static final long serialVersionUID = 1L;

    /** The log-likelihood column. */
    private final Param<String> logLikelihoodCol =
            new Param<>(
                    this,
                    "logLikelihoodCol",
                    "the column of the log-likelihood, in nats (double)",
                    ParamCheck.column("logLikelihoodCol"));

    /** The token count column. */
    private final Param<String> tokensCol =
            new Param<>(
                    this,
                    "tokensCol",
                    "the column of the token count (int)",
                    ParamCheck.column("tokensCol"));

    /** The bits per byte column. */
    private final Param<String> bitsPerByteCol =
            new Param<>(
                    this,
                    "bitsPerByteCol",
                    "the column of the bits per UTF-8 byte (double)",
                    ParamCheck.column("bitsPerByteCol"));

    /** Creates a scorer with the default settings and no model, under a new uid. */
    public SparkScorer() {
        this(Identifiable$.MODULE$.randomUID("SparkScorer"));
    }

    /**
     * Creates a scorer with the default settings and no model; Spark's readers and {@code copy}
     * call it.
     *
     * @param uid the stage's unique id
     */
    public SparkScorer(String uid) {
        super(uid);
        setDefault(logLikelihoodCol, "log_likelihood");
        setDefault(tokensCol, "tokens");
        setDefault(bitsPerByteCol, "bits_per_byte");
    }

    /**
     * Returns a builder, the DJL-style way to make a scorer.
     *
     * @return a new builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Returns the reader of a saved scorer, as Spark's {@code PipelineModel.load} calls it.
     *
     * @return the reader
     */
    public static MLReader<SparkScorer> read() {
        return new DefaultParamsReader<>();
    }

    /**
     * Loads a scorer saved with {@code write().save(path)} (or {@code save(path)}).
     *
     * @param path the folder it was saved to
     * @return the scorer
     */
    public static SparkScorer load(String path) {
        return read().load(path);
    }

    /** {@inheritDoc} */
    @Override
    public SparkScorer copy(ParamMap extra) {
        return defaultCopy(extra);
    }

    /**
     * The param of the log-likelihood column (default {@code log_likelihood}).
     *
     * @return the param
     */
    public Param<String> logLikelihoodCol() {
        return logLikelihoodCol;
    }

    /**
     * The param of the token count column (default {@code tokens}).
     *
     * @return the param
     */
    public Param<String> tokensCol() {
        return tokensCol;
    }

    /**
     * The param of the bits per byte column (default {@code bits_per_byte}).
     *
     * @return the param
     */
    public Param<String> bitsPerByteCol() {
        return bitsPerByteCol;
    }

    /**
     * Sets the column of the log-likelihood, in nats (default {@code log_likelihood}).
     *
     * @param column the column name
     * @return this scorer
     */
    public SparkScorer setLogLikelihoodCol(String column) {
        set(logLikelihoodCol, column);
        return this;
    }

    /**
     * Sets the column of the token count (default {@code tokens}).
     *
     * @param column the column name
     * @return this scorer
     */
    public SparkScorer setTokensCol(String column) {
        set(tokensCol, column);
        return this;
    }

    /**
     * Sets the column of the bits per byte (default {@code bits_per_byte}).
     *
     * @param column the column name
     * @return this scorer
     */
    public SparkScorer setBitsPerByteCol(String column) {
        set(bitsPerByteCol, column);
        return this;
    }

    /**
     * Returns the log-likelihood column's name.
     *
     * @return the column name
     */
    public String getLogLikelihoodCol() {
        return getOrDefault(logLikelihoodCol);
    }

    /**
     * Returns the token count column's name.
     *
     * @return the column name
     */
    public String getTokensCol() {
        return getOrDefault(tokensCol);
    }

    /**
     * Returns the bits per byte column's name.
     *
     * @return the column name
     */
    public String getBitsPerByteCol() {
        return getOrDefault(bitsPerByteCol);
    }

    @Override
    List<StructField> resultFields() {
        return List.of(
                DataTypes.createStructField(getLogLikelihoodCol(), DataTypes.DoubleType, true),
                DataTypes.createStructField(getTokensCol(), DataTypes.IntegerType, true),
                DataTypes.createStructField(getBitsPerByteCol(), DataTypes.DoubleType, true));
    }

    @Override
    void checkSettings() {
        // every setting is checked when it is set
    }

    @Override
    void checkColumns(StructType schema) {
        // reads the text column only
    }

    @Override
    PartitionJob<?, ?> job(RowOptions options, StructType schema, int textIndex) {
        return new ScoringJob(options, textIndex);
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

    /** Configures a {@link SparkScorer}, the DJL way: the same params as its setters. */
    public static final class Builder extends BaseBuilder<Builder> {

        private final SparkScorer stage;

        Builder() {
            this(new SparkScorer());
        }

        private Builder(SparkScorer stage) {
            super(stage);
            this.stage = stage;
        }

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
            stage.setLogLikelihoodCol(column);
            return this;
        }

        /**
         * Sets the column of the token count (default {@code tokens}).
         *
         * @param column the column name
         * @return this builder
         */
        public Builder optTokensCol(String column) {
            stage.setTokensCol(column);
            return this;
        }

        /**
         * Sets the column of the bits per byte (default {@code bits_per_byte}).
         *
         * @param column the column name
         * @return this builder
         */
        public Builder optBitsPerByteCol(String column) {
            stage.setBitsPerByteCol(column);
            return this;
        }

        /**
         * Builds a scorer with this builder's settings, under a new uid (so that two scorers of one
         * builder can share a pipeline).
         *
         * @return the scorer
         * @throws IllegalArgumentException if no model is set
         */
        public SparkScorer build() {
            stage.checkComplete();
            return stage.copySettingsTo(new SparkScorer());
        }
    }
}
