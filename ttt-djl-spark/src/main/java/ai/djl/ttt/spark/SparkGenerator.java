package ai.djl.ttt.spark;

import ai.djl.inference.Predictor;
import ai.djl.ttt.zoo.TttTranslatorFactory;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.apache.spark.ml.param.DoubleParam;
import org.apache.spark.ml.param.IntArrayParam;
import org.apache.spark.ml.param.IntParam;
import org.apache.spark.ml.param.LongParam;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.ml.util.DefaultParamsReader;
import org.apache.spark.ml.util.Identifiable$;
import org.apache.spark.ml.util.MLReader;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * A Spark ML {@code Transformer} that continues every prompt of a dataset with a ttt-djl language
 * model: adds the continuation and an error column. Sampling (temperature, top-k, top-p, stop
 * tokens, length) is the zoo's ({@code docs/generation.md}); each row is sampled with its own seed,
 * taken from a seed column, or else derived from the base seed and the prompt's text, so a row's
 * continuation does not depend on how the dataset is partitioned or batched.
 *
 * <pre>{@code
 * SparkGenerator generator = new SparkGenerator()
 *         .setModel("models/ttt-linear-mamba-small")
 *         .setInputCol("prompt")
 *         .setMaxNewTokens(64).setTemperature(0.8).setTopK(40)
 *         .setSeedCol("id");                    // a long, int or short column
 * Dataset<Row> continued = generator.transform(prompts);   // or a stage of a Pipeline
 * // columns: the input's, continuation, error
 * }</pre>
 *
 * {@link #builder()} makes the same stage the DJL way. Without a seed column, equal prompts get
 * equal continuations; give rows a seed column (an id) to draw several continuations of one prompt.
 * A row whose prompt is null, empty or longer than {@code maxTokens}, whose seed is null, or whose
 * generation fails, gets a null continuation and a message in the error column; the job goes on.
 * The stage has no state but its params: {@code DefaultParamsWritable} saves it with its pipeline,
 * {@link #load} reads it back.
 */
public final class SparkGenerator extends TextTransformer<SparkGenerator> {

    private static final long serialVersionUID = 1L;

    /** The continuation column. */
    private final Param<String> continuationCol =
            new Param<>(
                    this,
                    "continuationCol",
                    "the column of the continuation (string)",
                    ParamCheck.column("continuationCol"));

    /** The seed column, unset for derived seeds. */
    private final Param<String> seedCol =
            new Param<>(
                    this,
                    "seedCol",
                    "the long, int or short column whose value seeds each row's sampling; unset:"
                            + " each row's seed is derived from seed and the prompt",
                    ParamCheck.column("seedCol"));

    /** The base seed of derived seeds. */
    private final LongParam seed =
            new LongParam(
                    this,
                    "seed",
                    "the base seed of the rows' derived seeds, when seedCol is unset");

    /** The most tokens generated per row. */
    private final IntParam maxNewTokens =
            new IntParam(
                    this,
                    "maxNewTokens",
                    "the most tokens generated per row (>= 1)",
                    zooCheck("maxNewTokens"));

    /** The softmax temperature. */
    private final DoubleParam temperature =
            new DoubleParam(
                    this,
                    "temperature",
                    "the softmax temperature; 0 decodes greedily (finite, >= 0)",
                    zooCheck("temperature"));

    /** Top-k sampling. */
    private final IntParam topK =
            new IntParam(
                    this,
                    "topK",
                    "keeps the k most likely tokens before sampling; 0 keeps all (>= 0)",
                    zooCheck("topK"));

    /** Nucleus sampling. */
    private final DoubleParam topP =
            new DoubleParam(
                    this,
                    "topP",
                    "keeps the nucleus of this probability before sampling; 1 keeps all (in (0,"
                            + " 1])",
                    zooCheck("topP"));

    /** The stop token ids. */
    private final IntArrayParam stopTokens =
            new IntArrayParam(
                    this,
                    "stopTokens",
                    "the token ids that end a row's continuation (included in it)",
                    ParamCheck.of(
                            "stopTokens",
                            "token ids >= 0",
                            ids -> ids != null && Arrays.stream(ids).allMatch(id -> id >= 0)));

    /**
     * Creates a generator with the default settings (the zoo's sampling, 64 tokens) and no model.
     */
    public SparkGenerator() {
        this(Identifiable$.MODULE$.randomUID("SparkGenerator"));
    }

    /**
     * Creates a generator with the default settings and no model; Spark's readers and {@code copy}
     * call it.
     *
     * @param uid the stage's unique id
     */
    public SparkGenerator(String uid) {
        super(uid);
        setDefault(continuationCol, "continuation");
        setDefault(seed, TttTranslatorFactory.DEFAULT_SEED);
        setDefault(maxNewTokens, TttTranslatorFactory.DEFAULT_MAX_NEW_TOKENS);
        setDefault(temperature, TttTranslatorFactory.DEFAULT_TEMPERATURE);
        setDefault(topK, TttTranslatorFactory.DEFAULT_TOP_K);
        setDefault(topP, 1.0);
        setDefault(stopTokens, new int[0]);
    }

    /** A check by the zoo's own checks of one generation setting (one message for both APIs). */
    private static <T> ParamCheck<T> zooCheck(String name) {
        return ParamCheck.throwing(
                value -> {
                    TttTranslatorFactory.sampling(Map.of(name, value));
                    return true;
                });
    }

    /**
     * Returns a builder, the DJL-style way to make a generator: the zoo's default decoding
     * (temperature 0.8, top-k 40, as {@code ttt generate}) of at most 64 tokens, base seed 42.
     *
     * @return a new builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Returns the reader of a saved generator, as Spark's {@code PipelineModel.load} calls it.
     *
     * @return the reader
     */
    public static MLReader<SparkGenerator> read() {
        return new DefaultParamsReader<>();
    }

    /**
     * Loads a generator saved with {@code write().save(path)} (or {@code save(path)}).
     *
     * @param path the folder it was saved to
     * @return the generator
     */
    public static SparkGenerator load(String path) {
        return read().load(path);
    }

    /** {@inheritDoc} */
    @Override
    public SparkGenerator copy(ParamMap extra) {
        return defaultCopy(extra);
    }

    /**
     * The param of the continuation column (default {@code continuation}).
     *
     * @return the param
     */
    public Param<String> continuationCol() {
        return continuationCol;
    }

    /**
     * The param of the seed column (long, int or short; no default: derived seeds).
     *
     * @return the param
     */
    public Param<String> seedCol() {
        return seedCol;
    }

    /**
     * The param of the base seed of derived seeds (default 42).
     *
     * @return the param
     */
    public LongParam seed() {
        return seed;
    }

    /**
     * The param of the most tokens generated per row (default 64).
     *
     * @return the param
     */
    public IntParam maxNewTokens() {
        return maxNewTokens;
    }

    /**
     * The param of the softmax temperature (default 0.8, as the zoo; 0 is greedy).
     *
     * @return the param
     */
    public DoubleParam temperature() {
        return temperature;
    }

    /**
     * The param of top-k sampling (default 0: all tokens).
     *
     * @return the param
     */
    public IntParam topK() {
        return topK;
    }

    /**
     * The param of nucleus sampling (default 1: all tokens).
     *
     * @return the param
     */
    public DoubleParam topP() {
        return topP;
    }

    /**
     * The param of the stop token ids (default none).
     *
     * @return the param
     */
    public IntArrayParam stopTokens() {
        return stopTokens;
    }

    /**
     * Sets the column of the continuation (default {@code continuation}).
     *
     * @param column the column name
     * @return this generator
     */
    public SparkGenerator setContinuationCol(String column) {
        set(continuationCol, column);
        return this;
    }

    /**
     * Sets the column (long, int or short) whose value seeds each row's sampling; without one
     * ({@code clear(seedCol())}), a row's seed is {@link #rowSeed}{@code (seed, prompt)}.
     *
     * @param column the column name
     * @return this generator
     */
    public SparkGenerator setSeedCol(String column) {
        set(seedCol, column);
        return this;
    }

    /**
     * Sets the base seed of the rows' derived seeds (default 42).
     *
     * @param value the seed
     * @return this generator
     */
    public SparkGenerator setSeed(long value) {
        set(seed, value);
        return this;
    }

    /**
     * Sets the most tokens generated per row (default 64).
     *
     * @param n the limit, at least 1
     * @return this generator
     */
    public SparkGenerator setMaxNewTokens(int n) {
        set(maxNewTokens, n);
        return this;
    }

    /**
     * Sets the softmax temperature (default 0.8, as the zoo and {@code ttt generate}; 0 is greedy).
     *
     * @param t the temperature, finite and at least 0
     * @return this generator
     */
    public SparkGenerator setTemperature(double t) {
        set(temperature, t);
        return this;
    }

    /**
     * Keeps the k most likely tokens before sampling (default 0: all).
     *
     * @param k the number of tokens, at least 0
     * @return this generator
     */
    public SparkGenerator setTopK(int k) {
        set(topK, k);
        return this;
    }

    /**
     * Keeps the nucleus of probability p before sampling (default 1: all).
     *
     * @param p the nucleus mass, in (0, 1]
     * @return this generator
     */
    public SparkGenerator setTopP(double p) {
        set(topP, p);
        return this;
    }

    /**
     * Sets the token ids that end a row's continuation (included in it).
     *
     * @param tokens the stop tokens
     * @return this generator
     */
    public SparkGenerator setStopTokens(int... tokens) {
        set(stopTokens, tokens.clone());
        return this;
    }

    /**
     * Returns the continuation column's name.
     *
     * @return the column name
     */
    public String getContinuationCol() {
        return getOrDefault(continuationCol);
    }

    /**
     * Returns the seed column's name.
     *
     * @return the column name, or null when the seeds are derived from the prompts
     */
    public String getSeedCol() {
        return isDefined(seedCol) ? getOrDefault(seedCol) : null;
    }

    /**
     * Returns the base seed of derived seeds.
     *
     * @return the seed
     */
    public long getSeed() {
        return (Long) getOrDefault(seed);
    }

    /**
     * Returns the most tokens generated per row.
     *
     * @return the limit
     */
    public int getMaxNewTokens() {
        return (Integer) getOrDefault(maxNewTokens);
    }

    /**
     * Returns the softmax temperature.
     *
     * @return the temperature
     */
    public double getTemperature() {
        return (Double) getOrDefault(temperature);
    }

    /**
     * Returns the top-k setting.
     *
     * @return k, 0 for all tokens
     */
    public int getTopK() {
        return (Integer) getOrDefault(topK);
    }

    /**
     * Returns the nucleus mass.
     *
     * @return p
     */
    public double getTopP() {
        return (Double) getOrDefault(topP);
    }

    /**
     * Returns the stop token ids.
     *
     * @return a copy of the ids
     */
    public int[] getStopTokens() {
        return getOrDefault(stopTokens).clone();
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

    /** The generation settings as the zoo's {@code Criteria} arguments, the seed excluded. */
    LinkedHashMap<String, Object> arguments() {
        LinkedHashMap<String, Object> arguments = new LinkedHashMap<>();
        arguments.put("maxNewTokens", getMaxNewTokens());
        arguments.put("temperature", getTemperature());
        arguments.put("topK", getTopK());
        arguments.put("topP", getTopP());
        int[] stops = getStopTokens();
        if (stops.length > 0) {
            arguments.put(
                    "stopTokens",
                    Arrays.stream(stops)
                            .mapToObj(Integer::toString)
                            .collect(Collectors.joining(",")));
        }
        return arguments;
    }

    @Override
    List<StructField> resultFields() {
        return List.of(
                DataTypes.createStructField(getContinuationCol(), DataTypes.StringType, true));
    }

    @Override
    void checkSettings() {
        // the zoo's checks of the settings together, on the driver
        Map<String, Object> arguments = arguments();
        arguments.put("seed", getSeed());
        TttTranslatorFactory.sampling(arguments);
    }

    @Override
    void checkColumns(StructType schema) {
        seedIndex(schema);
    }

    /** The seed column's index, -1 without one; checks that it exists and is an integer. */
    private int seedIndex(StructType schema) {
        String column = getSeedCol();
        if (column == null) {
            return -1;
        }
        List<String> names = Arrays.asList(schema.fieldNames());
        int index = names.indexOf(column);
        if (index < 0) {
            throw new IllegalArgumentException(
                    "no column '" + column + "' (seedCol); the columns are " + names);
        }
        DataType type = schema.fields()[index].dataType();
        if (!List.of(DataTypes.LongType, DataTypes.IntegerType, DataTypes.ShortType)
                .contains(type)) {
            throw new IllegalArgumentException(
                    "the seed column '"
                            + column
                            + "' (seedCol) must be long, int or short, got "
                            + type.simpleString());
        }
        return index;
    }

    @Override
    PartitionJob<?, ?> job(RowOptions options, StructType schema, int textIndex) {
        return new GenerationJob(options, textIndex, seedIndex(schema), getSeed(), arguments());
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

    /** Configures a {@link SparkGenerator}, the DJL way: the same params as its setters. */
    public static final class Builder extends BaseBuilder<Builder> {

        private final SparkGenerator stage;

        Builder() {
            this(new SparkGenerator());
        }

        private Builder(SparkGenerator stage) {
            super(stage);
            this.stage = stage;
        }

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
            stage.setContinuationCol(column);
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
            stage.setSeedCol(column);
            return this;
        }

        /**
         * Sets the base seed of the rows' derived seeds (default 42).
         *
         * @param seed the seed
         * @return this builder
         */
        public Builder optSeed(long seed) {
            stage.setSeed(seed);
            return this;
        }

        /**
         * Sets the most tokens generated per row (default 64).
         *
         * @param n the limit
         * @return this builder
         */
        public Builder optMaxNewTokens(int n) {
            stage.setMaxNewTokens(n);
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
            stage.setTemperature(t);
            return this;
        }

        /**
         * Keeps the k most likely tokens before sampling (default 40, as the zoo; 0 keeps all).
         *
         * @param k the number of tokens
         * @return this builder
         */
        public Builder optTopK(int k) {
            stage.setTopK(k);
            return this;
        }

        /**
         * Keeps the nucleus of probability p before sampling (default 1: all).
         *
         * @param p the nucleus mass
         * @return this builder
         */
        public Builder optTopP(double p) {
            stage.setTopP(p);
            return this;
        }

        /**
         * Sets the token ids that end a row's continuation (included in it).
         *
         * @param tokens the stop tokens, each in [0, 2^31)
         * @return this builder
         * @throws IllegalArgumentException if an id is negative or over an int
         */
        public Builder optStopTokens(long... tokens) {
            int[] ids = new int[tokens.length];
            for (int i = 0; i < tokens.length; i++) {
                if (tokens[i] < 0 || tokens[i] > Integer.MAX_VALUE) {
                    throw new IllegalArgumentException(
                            "stopTokens must be token ids in [0, 2^31), got " + tokens[i]);
                }
                ids[i] = (int) tokens[i];
            }
            stage.setStopTokens(ids);
            return this;
        }

        /**
         * Builds a generator with this builder's settings, under a new uid (so that two generators
         * of one builder can share a pipeline).
         *
         * @return the generator
         * @throws IllegalArgumentException if no model is set, or the settings do not go together
         */
        public SparkGenerator build() {
            stage.checkComplete();
            return stage.copySettingsTo(new SparkGenerator());
        }
    }
}
