package ai.djl.ttt.spark;

import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * The settings that {@link SparkScorer} and {@link SparkGenerator} share: the model, the text
 * column, the error column, the batch size and the length limit.
 *
 * @param <T> the concrete builder
 */
public abstract class BaseBuilder<T extends BaseBuilder<T>> {

    /** The default rows per {@code batchPredict} call. */
    public static final int DEFAULT_BATCH_SIZE = 16;

    /** The default longest text, in tokens. */
    public static final int DEFAULT_MAX_TOKENS = 4096;

    ModelLocation location;
    String inputCol = "text";
    String errorCol = "error";
    int batchSize = DEFAULT_BATCH_SIZE;
    int maxTokens = DEFAULT_MAX_TOKENS;

    /** Creates a builder with the defaults. */
    protected BaseBuilder() {}

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
     */
    public T setModel(String location) {
        this.location = ModelLocation.of(location);
        return self();
    }

    /**
     * Sets the string column that holds the texts (default {@code text}).
     *
     * @param column the column name
     * @return this builder
     */
    public T optInputCol(String column) {
        this.inputCol = column;
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
        this.errorCol = column;
        return self();
    }

    /**
     * Sets how many rows go to the model per {@code batchPredict} call (default {@value
     * #DEFAULT_BATCH_SIZE}): the rows of a call run one at a time but share one native memory
     * scope, freed after the call, so a task's peak memory grows with the batch size.
     *
     * @param size rows per call, at least 1
     * @return this builder
     */
    public T optBatchSize(int size) {
        this.batchSize = size;
        return self();
    }

    /**
     * Sets the longest text a row may have, in tokens (default {@value #DEFAULT_MAX_TOKENS}); a
     * longer row gets a null result and an error. Scoring holds about three {@code (T, V)} float
     * arrays per task, so the limit bounds an executor's native memory.
     *
     * @param tokens the limit, at least 1
     * @return this builder
     */
    public T optMaxTokens(int tokens) {
        this.maxTokens = tokens;
        return self();
    }

    /** Checks the shared settings; the message names what was expected and what came. */
    RowOptions options() {
        if (location == null) {
            throw new IllegalArgumentException(
                    "no model: call setModel with a model directory or an archive name");
        }
        if (batchSize < 1) {
            throw new IllegalArgumentException("batchSize must be >= 1, got " + batchSize);
        }
        if (maxTokens < 1) {
            throw new IllegalArgumentException("maxTokens must be >= 1, got " + maxTokens);
        }
        return new RowOptions(location, batchSize, maxTokens);
    }

    /**
     * The index of the text column in a schema, checking that it is a string and that none of the
     * output columns exists yet.
     */
    static int textIndex(StructType schema, String inputCol, String... outputs) {
        List<String> names = Arrays.asList(schema.fieldNames());
        int index = names.indexOf(inputCol);
        if (index < 0) {
            throw new IllegalArgumentException(
                    "no column '"
                            + inputCol
                            + "' to read the texts from; the columns are "
                            + names);
        }
        StructField field = schema.fields()[index];
        if (!DataTypes.StringType.equals(field.dataType())) {
            throw new IllegalArgumentException(
                    "the text column '"
                            + inputCol
                            + "' must be a string column, got "
                            + field.dataType().simpleString());
        }
        List<String> taken =
                Arrays.stream(outputs).filter(names::contains).collect(Collectors.toList());
        if (!taken.isEmpty()) {
            throw new IllegalArgumentException(
                    "the output column(s) "
                            + taken
                            + " exist already; choose other names (opt...Col) or drop them");
        }
        if (Arrays.stream(outputs).distinct().count() != outputs.length) {
            throw new IllegalArgumentException(
                    "the output columns must have distinct names, got " + Arrays.asList(outputs));
        }
        return index;
    }
}
