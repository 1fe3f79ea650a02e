package ai.djl.ttt.spark;

import ai.djl.inference.Predictor;
import ai.djl.translate.TranslateException;
import ai.djl.ttt.training.Tokenizer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.util.TaskCompletionListener;

/**
 * The work of one partition: rows in batches of {@code batchSize} through one {@code Predictor} of
 * the executor's model, each row out with its input columns and the result columns. A row whose
 * text is null, too short or too long, or whose prediction fails, gets nulls and an error message,
 * never a failed task.
 *
 * @param <I> the predictor's input type
 * @param <O> the predictor's output type
 */
abstract class PartitionJob<I, O> implements MapPartitionsFunction<Row, Row> {

    private static final long serialVersionUID = 1L;

    private final RowOptions options;
    private final int textIndex;

    PartitionJob(RowOptions options, int textIndex) {
        this.options = options;
        this.textIndex = textIndex;
    }

    /** Opens this job's predictor on the executor's model. */
    abstract Predictor<I, O> newPredictor(ExecutorModels.Loaded loaded);

    /** The fewest tokens a text needs. */
    abstract int minTokens();

    /** The predictor's input for a row whose text passed the checks. */
    abstract I input(Row row, String text);

    /** The result columns of a prediction, in schema order, the error column excluded. */
    abstract Object[] values(O output);

    /** How many result columns {@link #values} gives. */
    abstract int width();

    /** {@inheritDoc} */
    @Override
    public Iterator<Row> call(Iterator<Row> rows) {
        if (!rows.hasNext()) {
            return Collections.emptyIterator(); // an empty partition loads nothing
        }
        ExecutorModels.Loaded loaded = ExecutorModels.get(options.location());
        Predictor<I, O> predictor = newPredictor(loaded);
        Closer closer = new Closer(predictor);
        TaskContext task = TaskContext.get();
        if (task != null) {
            // also when the task stops early (a limit) or fails
            task.addTaskCompletionListener((TaskCompletionListener) closer);
        }
        return new Iterator<>() {
            private final Deque<Row> ready = new ArrayDeque<>();

            @Override
            public boolean hasNext() {
                while (ready.isEmpty() && rows.hasNext()) {
                    ready.addAll(batch(rows, predictor, loaded.tokenizer()));
                }
                if (ready.isEmpty()) {
                    closer.close();
                    return false;
                }
                return true;
            }

            @Override
            public Row next() {
                if (!hasNext()) {
                    throw new NoSuchElementException();
                }
                return ready.poll();
            }
        };
    }

    private List<Row> batch(Iterator<Row> rows, Predictor<I, O> predictor, Tokenizer tokenizer) {
        List<Row> batch = new ArrayList<>();
        List<String> errors = new ArrayList<>();
        List<I> inputs = new ArrayList<>();
        List<Integer> positions = new ArrayList<>();
        while (batch.size() < options.batchSize() && rows.hasNext()) {
            Row row = rows.next();
            String error;
            try {
                String text = row.isNullAt(textIndex) ? null : row.getString(textIndex);
                error = check(text, tokenizer);
                if (error == null) {
                    inputs.add(input(row, text));
                    positions.add(batch.size());
                }
            } catch (IllegalArgumentException e) {
                error = e.getMessage();
            }
            batch.add(row);
            errors.add(error);
        }
        List<Object> outputs = predict(predictor, inputs);
        Object[] results = new Object[batch.size()];
        for (int i = 0; i < positions.size(); i++) {
            results[positions.get(i)] = outputs.get(i);
        }
        List<Row> out = new ArrayList<>(batch.size());
        for (int i = 0; i < batch.size(); i++) {
            Object result = results[i];
            String error = errors.get(i);
            if (result instanceof Failure f) {
                error = f.message();
                result = null;
            }
            out.add(withResult(batch.get(i), result, error));
        }
        return out;
    }

    /** Why a text cannot be predicted, or null. */
    private String check(String text, Tokenizer tokenizer) {
        if (text == null) {
            return "the text is null";
        }
        if (text.isEmpty()) {
            return "the text is empty";
        }
        int tokens = tokenizer.encode(text).length;
        if (tokens < minTokens()) {
            return "the text has "
                    + tokens
                    + " token(s), fewer than the "
                    + minTokens()
                    + " needed";
        }
        if (tokens > options.maxTokens()) {
            return "the text has "
                    + tokens
                    + " tokens, more than maxTokens = "
                    + options.maxTokens();
        }
        return null;
    }

    /** One batchPredict; if it fails, row by row so that only the failing rows fail. */
    private List<Object> predict(Predictor<I, O> predictor, List<I> inputs) {
        List<Object> outputs = new ArrayList<>(inputs.size());
        if (inputs.isEmpty()) {
            return outputs;
        }
        try {
            outputs.addAll(predictor.batchPredict(inputs));
            return outputs;
        } catch (TranslateException | RuntimeException batchFailure) {
            for (I input : inputs) {
                try {
                    outputs.add(predictor.predict(input));
                } catch (TranslateException | RuntimeException e) {
                    Throwable cause = e.getCause() != null ? e.getCause() : e;
                    outputs.add(
                            new Failure(
                                    cause.getClass().getSimpleName() + ": " + cause.getMessage()));
                }
            }
            return outputs;
        }
    }

    @SuppressWarnings("unchecked")
    private Row withResult(Row row, Object result, String error) {
        int n = row.length();
        Object[] values = new Object[n + width() + 1];
        for (int i = 0; i < n; i++) {
            values[i] = row.get(i);
        }
        if (result != null) {
            Object[] columns = values((O) result);
            System.arraycopy(columns, 0, values, n, columns.length);
        }
        values[n + width()] = error;
        return RowFactory.create(values);
    }

    /** A row's failed prediction. */
    private record Failure(String message) {}

    /** Closes the partition's predictor once, at the end of its rows or of its task. */
    private static final class Closer implements TaskCompletionListener {

        private final Predictor<?, ?> predictor;
        private boolean closed;

        Closer(Predictor<?, ?> predictor) {
            this.predictor = predictor;
        }

        synchronized void close() {
            if (!closed) {
                closed = true;
                predictor.close();
            }
        }

        @Override
        public void onTaskCompletion(TaskContext context) {
            close();
        }
    }
}
