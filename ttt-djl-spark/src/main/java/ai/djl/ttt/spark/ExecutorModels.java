package ai.djl.ttt.spark;

import ai.djl.MalformedModelException;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ModelNotFoundException;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.ttt.training.Tokenizer;
import ai.djl.ttt.zoo.TextScore;
import ai.djl.ttt.zoo.TttTranslatorFactory;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The models of this JVM: one {@link ZooModel} per model directory, loaded through DJL's {@code
 * Criteria} the first time a task of this executor needs it and shared by every later task, which
 * each open their own {@code Predictor} on it (a {@code ZooModel} may be shared by threads; see
 * {@code docs/model-zoo.md}).
 *
 * <p>Why static: Spark runs the tasks of a job as closures deserialized on each executor, so the
 * only thing every task of a JVM shares is the JVM itself; loading per task would read the weights
 * once per partition. The models stay loaded until the JVM ends (or {@link #closeAll}).
 */
public final class ExecutorModels {

    private static final Map<Path, Loaded> MODELS = new ConcurrentHashMap<>();
    private static final AtomicInteger LOADS = new AtomicInteger();

    private ExecutorModels() {}

    /**
     * A loaded model: the scoring {@code ZooModel} (other translators open predictors on it too)
     * and the model's tokenizer.
     *
     * @param dir the model directory
     * @param model the model, whose default translator scores texts
     * @param tokenizer the model's tokenizer
     */
    public record Loaded(Path dir, ZooModel<String, TextScore> model, Tokenizer tokenizer) {}

    /**
     * Returns the model of a directory, loading it on first use in this JVM.
     *
     * @param location where the model directory is
     * @return the loaded model
     * @throws IllegalArgumentException if the location holds no model directory
     * @throws IllegalStateException if the directory does not load, with DJL's reason
     */
    public static Loaded get(ModelLocation location) {
        return MODELS.computeIfAbsent(location.resolve(), ExecutorModels::load);
    }

    /**
     * Returns how many times this JVM has loaded a model (every directory, since the start or the
     * last {@link #closeAll}): one per model directory when the models are shared as they should.
     *
     * @return the number of loads
     */
    public static int loads() {
        return LOADS.get();
    }

    /** Closes every model of this JVM and resets {@link #loads}; the next task loads afresh. */
    public static synchronized void closeAll() {
        List<Loaded> open = new ArrayList<>(MODELS.values());
        MODELS.clear();
        for (Loaded loaded : open) {
            loaded.model().close();
            loaded.tokenizer().close();
        }
        LOADS.set(0);
    }

    private static Loaded load(Path dir) {
        Tokenizer tokenizer;
        try {
            tokenizer = Tokenizer.load(dir);
        } catch (IOException e) {
            throw new IllegalStateException("cannot load the tokenizer of " + dir, e);
        }
        // a directory outside the zoo's models folder: DJL's loader, with the factory named
        // (docs/model-zoo.md); the tokenizer is shared by the translators of every predictor
        Criteria<String, TextScore> criteria =
                Criteria.builder()
                        .setTypes(String.class, TextScore.class)
                        .optModelPath(dir)
                        .optEngine("PyTorch")
                        .optTranslatorFactory(new TttTranslatorFactory())
                        .optArgument(TttTranslatorFactory.TOKENIZER, tokenizer)
                        .build();
        try {
            ZooModel<String, TextScore> model = criteria.loadModel();
            LOADS.incrementAndGet();
            return new Loaded(dir, model, tokenizer);
        } catch (IOException | ModelNotFoundException | MalformedModelException e) {
            tokenizer.close();
            throw new IllegalStateException("cannot load the model directory " + dir, e);
        }
    }
}
