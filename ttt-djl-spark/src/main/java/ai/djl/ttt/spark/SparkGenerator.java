package ai.djl.ttt.spark;

import ai.djl.inference.Predictor;
import ai.djl.ttt.zoo.TttTranslatorFactory;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.stream.Collectors;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * Continues every prompt of a {@code Dataset<Row>} with a ttt-djl language model: adds the
 * continuation and an error column. Sampling (temperature, top-k, top-p, stop tokens, length) is
 * the zoo's ({@code docs/generation.md}); each row is sampled with its own seed, taken from a seed
 * column, or else derived from the base seed and the prompt's text, so a row's continuation does
 * not depend on how the dataset is partitioned or batched.
 *
 * <pre>{@code
 * Dataset<Row> continued = SparkGenerator.builder()
 *         .setModel("models/ttt-linear-mamba-small")
 *         .optInputCol("prompt")
 *         .optMaxNewTokens(64).optTemperature(0.8).optTopK(40)
 *         .optSeedCol("id")                     // a long or int column
 *         .build()
 *         .transform(prompts);
 * // columns: the input's, continuation, error
 * }</pre>
 *
 * Without a seed column, equal prompts get equal continuations; give rows a seed column (an id) to
 * draw several continuations of one prompt. A row whose prompt is null, empty or longer than {@code
 * maxTokens}, whose seed is null, or whose generation fails, gets a null continuation and a message
 * in the error column; the job goes on.
 */
public final class SparkGenerator {

    private final RowOptions options;
    private final String inputCol;
    private final String continuationCol;
    private final String errorCol;
    private final String seedCol;
    private final long baseSeed;
    private final LinkedHashMap<String, Object> arguments;

    private SparkGenerator(Builder b) {
        options = b.options();
        inputCol = b.inputCol;
        continuationCol = b.continuationCol;
        errorCol = b.errorCol;
        seedCol = b.seedCol;
        baseSeed = b.seed;
        arguments = new LinkedHashMap<>(b.arguments);
        // the zoo's checks of the settings, on the driver
        arguments.put("seed", baseSeed);
        TttTranslatorFactory.sampling(arguments);
        arguments.remove("seed");
    }

    /**
     * Returns a builder: the zoo's default decoding (temperature 0.8, top-k 40, as {@code ttt
     * generate}) of at most 64 tokens, base seed 42.
     *
     * @return a new builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * The seed of a row without a seed column: the base seed and the prompt's UTF-8 bytes, mixed
     * (FNV-1a, then SplitMix64's finalizer) so that near prompts get unrelated seeds.
     *
     * @param baseSeed the generator's seed
     * @param prompt the row's prompt
     * @return the row's seed
     */
    public static long rowSeed(long baseSeed, String prompt) {
        long h = 0xcbf29ce484222325L ^ baseSeed;
        for (byte b : prompt.getBytes(StandardCharsets.UTF_8)) {
            h ^= b & 0xff;
            h *= 0x100000001b3L;
        }
        h = (h ^ (h >>> 30)) * 0xbf58476d1ce4e5b9L;
        h = (h ^ (h >>> 27)) * 0x94d049bb133111ebL;
        return h ^ (h >>> 31);
    }

    /**
     * Adds the continuation columns to a dataset (lazily: Spark runs it with the next action).
     *
     * @param prompts a dataset with a string column of prompts
     * @return the dataset with {@code continuation} (string) and {@code error} (string) appended,
     *     under the configured names
     * @throws IllegalArgumentException if the prompt column is missing or not a string, the seed
     *     column is missing or not an integer column, or an output column exists already
     */
    public Dataset<Row> transform(Dataset<Row> prompts) {
        StructType schema = prompts.schema();
        int textIndex = BaseBuilder.textIndex(schema, inputCol, continuationCol, errorCol);
        int seedIndex = -1;
        if (seedCol != null) {
            List<String> names = Arrays.asList(schema.fieldNames());
            seedIndex = names.indexOf(seedCol);
            if (seedIndex < 0) {
                throw new IllegalArgumentException(
                        "no seed column '" + seedCol + "'; the columns are " + names);
            }
            DataType type = schema.fields()[seedIndex].dataType();
            if (!List.of(DataTypes.LongType, DataTypes.IntegerType, DataTypes.ShortType)
                    .contains(type)) {
                throw new IllegalArgumentException(
                        "the seed column '"
                                + seedCol
                                + "' must be long, int or short, got "
                                + type.simpleString());
            }
        }
        StructType out =
                schema.add(continuationCol, DataTypes.StringType, true)
                        .add(errorCol, DataTypes.StringType, true);
        return prompts.mapPartitions(
                new GenerationJob(options, textIndex, seedIndex, baseSeed, arguments),
                Encoders.row(out));
    }

    /** Generation on the executors. */
    private static final class GenerationJob extends PartitionJob<SeededPrompt, String> {

        private static final long serialVersionUID = 1L;

        private final int seedIndex;
        private final long baseSeed;
        private final LinkedHashMap<String, Object> arguments;

        GenerationJob(
                RowOptions options,
                int textIndex,
                int seedIndex,
                long baseSeed,
                LinkedHashMap<String, Object> arguments) {
            super(options, textIndex);
            this.seedIndex = seedIndex;
            this.baseSeed = baseSeed;
            this.arguments = arguments;
        }

        @Override
        Predictor<SeededPrompt, String> newPredictor(ExecutorModels.Loaded loaded) {
            return loaded.model()
                    .newPredictor(new SeededGenerationTranslator(loaded.tokenizer(), arguments));
        }

        @Override
        int minTokens() {
            return 1;
        }

        @Override
        SeededPrompt input(Row row, String text) {
            if (seedIndex < 0) {
                return new SeededPrompt(text, rowSeed(baseSeed, text));
            }
            if (row.isNullAt(seedIndex)) {
                throw new IllegalArgumentException("the seed is null");
            }
            return new SeededPrompt(text, ((Number) row.get(seedIndex)).longValue());
        }

        @Override
        Object[] values(String continuation) {
            return new Object[] {continuation};
        }

        @Override
        int width() {
            return 1;
        }
    }

    /** Configures a {@link SparkGenerator}. */
    public static final class Builder extends BaseBuilder<Builder> {

        String continuationCol = "continuation";
        String seedCol;
        long seed = 42;
        final LinkedHashMap<String, Object> arguments = new LinkedHashMap<>();

        Builder() {}

        /** {@inheritDoc} */
        @Override
        protected Builder self() {
            return this;
        }

        /**
         * Sets the column of the continuation (default {@code continuation}).
         *
         * @param column the column name
         * @return this builder
         */
        public Builder optContinuationCol(String column) {
            this.continuationCol = column;
            return this;
        }

        /**
         * Sets the column (long, int or short) whose value seeds each row's sampling; without one,
         * a row's seed is {@link #rowSeed}{@code (seed, prompt)}.
         *
         * @param column the column name
         * @return this builder
         */
        public Builder optSeedCol(String column) {
            this.seedCol = column;
            return this;
        }

        /**
         * Sets the base seed of the rows' derived seeds (default 42).
         *
         * @param seed the seed
         * @return this builder
         */
        public Builder optSeed(long seed) {
            this.seed = seed;
            return this;
        }

        /**
         * Sets the most tokens generated per row (default 64).
         *
         * @param n the limit
         * @return this builder
         */
        public Builder optMaxNewTokens(int n) {
            arguments.put("maxNewTokens", n);
            return this;
        }

        /**
         * Sets the softmax temperature (default 0.8, as the zoo and {@code ttt generate}; 0 is
         * greedy).
         *
         * @param t the temperature
         * @return this builder
         */
        public Builder optTemperature(double t) {
            arguments.put("temperature", t);
            return this;
        }

        /**
         * Keeps the k most likely tokens before sampling (default 40, as the zoo; 0 keeps all).
         *
         * @param k the number of tokens
         * @return this builder
         */
        public Builder optTopK(int k) {
            arguments.put("topK", k);
            return this;
        }

        /**
         * Keeps the nucleus of probability p before sampling (default 1: all).
         *
         * @param p the nucleus mass
         * @return this builder
         */
        public Builder optTopP(double p) {
            arguments.put("topP", p);
            return this;
        }

        /**
         * Sets the token ids that end a row's continuation (included in it).
         *
         * @param tokens the stop tokens
         * @return this builder
         */
        public Builder optStopTokens(long... tokens) {
            arguments.put(
                    "stopTokens",
                    Arrays.stream(tokens)
                            .mapToObj(Long::toString)
                            .collect(Collectors.joining(",")));
            return this;
        }

        /**
         * Builds the generator.
         *
         * @return the generator
         * @throws IllegalArgumentException if no model is set, or a setting is out of range
         */
        public SparkGenerator build() {
            return new SparkGenerator(this);
        }
    }
}
