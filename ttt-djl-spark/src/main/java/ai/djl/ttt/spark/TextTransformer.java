package ai.djl.ttt.spark;

import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;
import org.apache.spark.ml.Transformer;
import org.apache.spark.ml.param.IntParam;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.ml.util.DefaultParamsWritable;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * A Spark ML {@code Transformer} that runs a ttt-djl model over a string column and appends result
 * columns and an error column: the base of {@link SparkScorer} and {@link SparkGenerator}. It holds
 * the {@code Params} they share — the model's location, the text column, the error column, the
 * batch size and the length limit — checks the input schema on the driver ({@link
 * #transformSchema}), and maps each partition through one {@code Predictor} of the executor's model
 * ({@link PartitionJob}).
 *
 * <p>Every setting is a {@code Param}, so a stage can sit in a {@code Pipeline}, take a {@code
 * ParamMap}, and be saved and loaded with its pipeline ({@code DefaultParamsWritable}; each
 * subclass has the static {@code read()} and {@code load(path)} that Spark's readers call). A value
 * that is out of range is refused when it is set, by any route, with an {@link
 * IllegalArgumentException} that names the param ({@link ParamCheck}).
 *
 * @param <T> the concrete stage, which the setters return
 */
public abstract sealed class TextTransformer<T extends TextTransformer<T>> extends Transformer
        implements DefaultParamsWritable permits SparkScorer, SparkGenerator {

    /** The default rows per {@code batchPredict} call. */
    public static final int DEFAULT_BATCH_SIZE = 16;

    /** The default longest text, in tokens. */
    public static final int DEFAULT_MAX_TOKENS = 4096;

    private static final long serialVersionUID = 1L;

    /** The stage's unique id. */
    private final String uid;

    /** The model's location. */
    private final Param<String> model;

    /** The text column. */
    private final Param<String> inputCol;

    /** The error column. */
    private final Param<String> errorCol;

    /** Rows per batchPredict call. */
    private final IntParam batchSize;

    /** The longest text, in tokens. */
    private final IntParam maxTokens;

    /**
     * Creates a stage with the default settings and no model.
     *
     * @param uid the stage's unique id (Spark ML's {@code Identifiable})
     */
    TextTransformer(String uid) {
        this.uid = uid;
        // the params need the uid, so they are made here rather than in field initializers
        model =
                new Param<>(
                        this,
                        "model",
                        "the model directory: a path every executor can read, or the name of an"
                                + " archive shipped with --archives (no default)",
                        ParamCheck.of(
                                "model",
                                "a model directory's path or the name of an archive shipped with"
                                        + " --archives",
                                m -> m != null && !m.isBlank()));
        inputCol =
                new Param<>(
                        this,
                        "inputCol",
                        "the string column that holds the texts",
                        ParamCheck.column("inputCol"));
        errorCol =
                new Param<>(
                        this,
                        "errorCol",
                        "the column that receives a row's error message, null when the row"
                                + " succeeded",
                        ParamCheck.column("errorCol"));
        batchSize =
                new IntParam(
                        this,
                        "batchSize",
                        "rows per batchPredict call; the rows of a call share one native memory"
                                + " scope, so a task's peak memory grows with it (>= 1)",
                        ParamCheck.atLeast("batchSize", 1));
        maxTokens =
                new IntParam(
                        this,
                        "maxTokens",
                        "the longest text a row may have, in tokens; a longer row gets a null"
                                + " result and an error (>= 1)",
                        ParamCheck.atLeast("maxTokens", 1));
        setDefault(inputCol, "text");
        setDefault(errorCol, "error");
        setDefault(batchSize, DEFAULT_BATCH_SIZE);
        setDefault(maxTokens, DEFAULT_MAX_TOKENS);
    }

    /** {@inheritDoc} */
    @Override
    public String uid() {
        return uid;
    }

    /**
     * The model's location param: a path every executor can read, or the name of an archive shipped
     * with {@code --archives} (see {@link ModelLocation}); no default.
     *
     * @return the param
     */
    public Param<String> model() {
        return model;
    }

    /**
     * The param of the string column that holds the texts (default {@code text}).
     *
     * @return the param
     */
    public Param<String> inputCol() {
        return inputCol;
    }

    /**
     * The param of the column that receives a row's error message (default {@code error}).
     *
     * @return the param
     */
    public Param<String> errorCol() {
        return errorCol;
    }

    /**
     * The param of the rows per {@code batchPredict} call (default {@value #DEFAULT_BATCH_SIZE}).
     *
     * @return the param
     */
    public IntParam batchSize() {
        return batchSize;
    }

    /**
     * The param of the longest text, in tokens (default {@value #DEFAULT_MAX_TOKENS}).
     *
     * @return the param
     */
    public IntParam maxTokens() {
        return maxTokens;
    }

    /**
     * Sets the model directory: a path every executor can read, or the name of an archive shipped
     * with {@code --archives} (see {@link ModelLocation}).
     *
     * @param location the path or archive name
     * @return this stage
     * @throws IllegalArgumentException if the location is null or blank
     */
    public T setModel(String location) {
        set(model, location);
        return self();
    }

    /**
     * Sets the string column that holds the texts (default {@code text}).
     *
     * @param column the column name
     * @return this stage
     */
    public T setInputCol(String column) {
        set(inputCol, column);
        return self();
    }

    /**
     * Sets the column that receives a row's error message, null when the row succeeded (default
     * {@code error}).
     *
     * @param column the column name
     * @return this stage
     */
    public T setErrorCol(String column) {
        set(errorCol, column);
        return self();
    }

    /**
     * Sets how many rows go to the model per {@code batchPredict} call (default {@value
     * #DEFAULT_BATCH_SIZE}): the rows of a call run one at a time but share one native memory
     * scope, freed after the call, so a task's peak memory grows with the batch size.
     *
     * @param size rows per call, at least 1
     * @return this stage
     * @throws IllegalArgumentException if the size is below 1
     */
    public T setBatchSize(int size) {
        set(batchSize, size);
        return self();
    }

    /**
     * Sets the longest text a row may have, in tokens (default {@value #DEFAULT_MAX_TOKENS}); a
     * longer row gets a null result and an error. Scoring holds about three {@code (T, V)} float
     * arrays per task, so the limit bounds an executor's native memory.
     *
     * @param tokens the limit, at least 1
     * @return this stage
     * @throws IllegalArgumentException if the limit is below 1
     */
    public T setMaxTokens(int tokens) {
        set(maxTokens, tokens);
        return self();
    }

    /**
     * Returns the model's location.
     *
     * @return the path or archive name
     * @throws IllegalArgumentException if no model is set
     */
    public String getModel() {
        if (!isDefined(model)) {
            throw new IllegalArgumentException(
                    "model is not set: call setModel with a model directory or an archive name");
        }
        return getOrDefault(model);
    }

    /**
     * Returns the text column's name.
     *
     * @return the column name
     */
    public String getInputCol() {
        return getOrDefault(inputCol);
    }

    /**
     * Returns the error column's name.
     *
     * @return the column name
     */
    public String getErrorCol() {
        return getOrDefault(errorCol);
    }

    /**
     * Returns the rows per {@code batchPredict} call.
     *
     * @return the batch size
     */
    public int getBatchSize() {
        return (Integer) getOrDefault(batchSize);
    }

    /**
     * Returns the longest text, in tokens.
     *
     * @return the limit
     */
    public int getMaxTokens() {
        return (Integer) getOrDefault(maxTokens);
    }

    /**
     * Checks the settings and the input schema, and returns the output schema: the input's columns,
     * then the result columns and the error column, all nullable.
     *
     * @param schema the input schema
     * @return the output schema
     * @throws IllegalArgumentException if no model is set, the text column is missing or not a
     *     string, an output column exists already, or a setting is invalid
     */
    @Override
    public StructType transformSchema(StructType schema) {
        checkComplete();
        textIndex(schema);
        checkColumns(schema);
        StructType out = schema;
        for (StructField field : resultFields()) {
            out = out.add(field);
        }
        return out.add(getErrorCol(), DataTypes.StringType, true);
    }

    /**
     * Adds the result columns to a dataset, lazily: Spark runs it with the next action. The dataset
     * may be a streaming one; each micro-batch's partitions go through the executors' models as a
     * batch job's do.
     *
     * @param dataset a dataset with a string column of texts
     * @return the dataset with the result columns and the error column appended
     * @throws IllegalArgumentException as {@link #transformSchema}
     */
    @Override
    public Dataset<Row> transform(Dataset<?> dataset) {
        StructType schema = dataset.schema();
        StructType out = transformSchema(schema);
        RowOptions options =
                new RowOptions(ModelLocation.of(getModel()), getBatchSize(), getMaxTokens());
        return dataset.toDF()
                .mapPartitions(job(options, schema, textIndex(schema)), Encoders.row(out));
    }

    /** The result columns, in order, the error column excluded. */
    abstract List<StructField> resultFields();

    /** Checks the stage's own settings together (single values are checked when set). */
    abstract void checkSettings();

    /** Checks the input columns the stage reads besides the text column. */
    abstract void checkColumns(StructType schema);

    /** The partition job for an input schema that passed {@link #transformSchema}. */
    abstract PartitionJob<?, ?> job(RowOptions options, StructType schema, int textIndex);

    /** Checks that a model is set and that the settings go together. */
    void checkComplete() {
        getModel();
        checkSettings();
    }

    /** Copies the values set on this stage (not the defaults) to another stage of its kind. */
    T copySettingsTo(T other) {
        return copyValues(other, new ParamMap());
    }

    @SuppressWarnings("unchecked")
    private T self() {
        return (T) this;
    }

    /**
     * The index of the text column in a schema, checking that it is a string and that none of the
     * output columns exists yet.
     */
    int textIndex(StructType schema) {
        String column = getInputCol();
        List<String> names = Arrays.asList(schema.fieldNames());
        int index = names.indexOf(column);
        if (index < 0) {
            throw new IllegalArgumentException(
                    "no column '"
                            + column
                            + "' (inputCol) to read the texts from; the columns are "
                            + names);
        }
        StructField field = schema.fields()[index];
        if (!DataTypes.StringType.equals(field.dataType())) {
            throw new IllegalArgumentException(
                    "the text column '"
                            + column
                            + "' (inputCol) must be a string column, got "
                            + field.dataType().simpleString());
        }
        List<String> outputs =
                resultFields().stream().map(StructField::name).collect(Collectors.toList());
        outputs.add(getErrorCol());
        List<String> taken = outputs.stream().filter(names::contains).collect(Collectors.toList());
        if (!taken.isEmpty()) {
            throw new IllegalArgumentException(
                    "the output column(s) "
                            + taken
                            + " exist already; choose other names (set...Col) or drop them");
        }
        if (outputs.stream().distinct().count() != outputs.size()) {
            throw new IllegalArgumentException(
                    "the output columns must have distinct names, got " + outputs);
        }
        return index;
    }
}
