package ai.djl.ttt.recall;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.ParameterStore;
import ai.djl.training.Trainer;
import ai.djl.training.dataset.Batch;
import ai.djl.training.listener.TrainingListener;
import ai.djl.translate.Batchifier;
import ai.djl.ttt.runtime.NoGrad;
import ai.djl.ttt.training.InnerLossListener;
import ai.djl.ttt.training.LmTraining;
import ai.djl.ttt.training.MaskedAdamW;
import ai.djl.ttt.training.ProgressListener;
import ai.djl.ttt.training.TrainingSettings;
import ai.djl.ttt.training.TrainingState;
import ai.djl.ttt.training.TrainingStep;
import java.io.PrintStream;
import java.util.List;

/**
 * Trains a causal LM on MQAR and measures its recall: the outer loop of {@link LmTraining} (DJL's
 * {@link Trainer}, {@link MaskedAdamW}, warm-up + cosine schedule, global-norm clipping, the
 * progress and inner-loss listeners) with fresh {@link AssociativeRecall} sequences at every step
 * and the {@link RecallLoss} on query positions only.
 *
 * <pre>{@code
 * AssociativeRecall task = AssociativeRecall.of(128, 16, 256);
 * RecallTraining.train(model, List.of(task), settings, System.out);
 * double accuracy = RecallTraining.accuracy(model, task, 256, 1, 32).value();
 * }</pre>
 */
public final class RecallTraining {

    private RecallTraining() {}

    /**
     * Exact-match accuracy on the query positions.
     *
     * @param correct queries whose most likely token is the right value
     * @param total queries scored
     */
    public record Accuracy(long correct, long total) {

        /**
         * Returns the share of queries answered right.
         *
         * @return {@code correct / total}, in [0, 1]
         */
        public double value() {
            return total == 0 ? 0 : (double) correct / total;
        }
    }

    /**
     * Trains a model; step {@code s} uses {@code tasks.get(s % tasks.size())}, so a list of tasks
     * of different lengths or numbers of pairs trains on their mixture.
     *
     * @param model the model; its block an initialised {@code CausalLm} whose vocabulary covers
     *     every task's
     * @param tasks the task of each step, in turn
     * @param settings the recipe; a step trains on {@code batchSize · contextLength} tokens, cut
     *     into sequences of its task's length; the seed chooses the training sequences
     * @param log where progress lines go
     * @param extraListeners more DJL listeners, called after the built-in ones at every step
     * @return the final state (steps and tokens)
     * @throws IllegalArgumentException if there is no task
     */
    public static TrainingState train(
            Model model,
            List<AssociativeRecall> tasks,
            TrainingSettings settings,
            PrintStream log,
            TrainingListener... extraListeners) {
        if (tasks.isEmpty()) {
            throw new IllegalArgumentException("need at least one task to train on");
        }
        TrainingState state = new TrainingState();
        state.settings = settings;
        MaskedAdamW optimizer =
                MaskedAdamW.builder()
                        .setBlock(model.getBlock())
                        .optLearningRateTracker(LmTraining.schedule(settings))
                        .optWeightDecay(settings.weightDecay())
                        .build();
        DefaultTrainingConfig config =
                new DefaultTrainingConfig(new RecallLoss())
                        .optOptimizer(optimizer)
                        .optDevices(new Device[] {model.getNDManager().getDevice()})
                        .addTrainingListeners(TrainingListener.Defaults.basic())
                        .addTrainingListeners(
                                new ProgressListener(settings, state, log),
                                new InnerLossListener(state, settings.validateEvery(), log))
                        .addTrainingListeners(extraListeners);
        // what trainer.initialize does, without its parameter copies (TrainingStep keeps those)
        model.getBlock()
                .initialize(
                        model.getNDManager(),
                        model.getDataType(),
                        new Shape(1, tasks.get(0).length()));
        try (Trainer trainer = model.newTrainer(config);
                TrainingStep step = new TrainingStep(trainer, optimizer)) {
            while (state.step < settings.steps()) {
                AssociativeRecall task = tasks.get(state.step % tasks.size());
                int sequences = sequencesPerStep(settings, task);
                List<AssociativeRecall.Sample> samples =
                        task.generate(sequences, trainingSeed(settings.seed(), state.step));
                try (NDManager m = trainer.getManager().newSubManager()) {
                    Batch batch = batch(m, samples, task.length(), state.step, settings.steps());
                    TrainingListener.BatchData data = step.run(batch, settings.clipNorm());
                    state.step++;
                    state.tokensSeen += (long) sequences * task.length();
                    trainer.notifyListeners(l -> l.onTrainingBatch(trainer, data));
                }
            }
            trainer.notifyListeners(l -> l.onTrainingEnd(trainer));
        }
        return state;
    }

    /** The step's tokens, {@code B · T} of the recipe, in sequences of the task's length. */
    private static int sequencesPerStep(TrainingSettings settings, AssociativeRecall task) {
        long tokens = (long) settings.batchSize() * settings.contextLength();
        return (int) Math.max(1, tokens / task.length());
    }

    /** Distinct from every evaluation seed of {@link #accuracy} (those are non-negative). */
    private static long trainingSeed(long seed, int step) {
        return -1 - (seed * 1_000_003L + step);
    }

    private static Batch batch(
            NDManager m, List<AssociativeRecall.Sample> samples, int length, int step, int steps) {
        NDList data =
                new NDList(m.create(tokens(samples, false), new Shape(samples.size(), length)));
        NDList labels =
                new NDList(m.create(tokens(samples, true), new Shape(samples.size(), length)));
        return new Batch(
                m, data, labels, samples.size(), Batchifier.STACK, Batchifier.STACK, step, steps);
    }

    private static long[] tokens(List<AssociativeRecall.Sample> samples, boolean targets) {
        int length = samples.get(0).tokens().length;
        long[] all = new long[samples.size() * length];
        for (int i = 0; i < samples.size(); i++) {
            AssociativeRecall.Sample s = samples.get(i);
            System.arraycopy(targets ? s.targets() : s.tokens(), 0, all, i * length, length);
        }
        return all;
    }

    /**
     * Measures exact-match accuracy on fresh sequences: at each query key, is the most likely next
     * token the value paired with it?
     *
     * @param model the model; its block a {@code CausalLm}
     * @param task the task
     * @param count how many sequences
     * @param seed the seed of the sequences ({@code >= 0}; training never uses these)
     * @param batchSize sequences per forward
     * @return correct and total queries
     * @throws IllegalArgumentException for a negative seed or non-positive counts
     */
    public static Accuracy accuracy(
            Model model, AssociativeRecall task, int count, long seed, int batchSize) {
        if (seed < 0 || count < 1 || batchSize < 1) {
            throw new IllegalArgumentException(
                    "need seed >= 0, count >= 1 and batch size >= 1; got "
                            + seed
                            + ", "
                            + count
                            + ", "
                            + batchSize);
        }
        List<AssociativeRecall.Sample> samples = task.generate(count, seed);
        ParameterStore ps = new ParameterStore(model.getNDManager(), false);
        long correct = 0;
        long total = 0;
        for (int first = 0; first < count; first += batchSize) {
            List<AssociativeRecall.Sample> rows =
                    samples.subList(first, Math.min(count, first + batchSize));
            try (NDManager m = model.getNDManager().newSubManager();
                    NoGrad off = NoGrad.open(m)) {
                Batch batch = batch(m, rows, task.length(), 0, 1);
                NDArray logits = model.getBlock().forward(ps, batch.getData(), false).head();
                NDArray targets = batch.getLabels().head();
                NDArray scored = targets.gte(0);
                correct += logits.argMax(2).eq(targets).logicalAnd(scored).sum().getLong();
                total += scored.sum().getLong();
            }
        }
        return new Accuracy(correct, total);
    }
}
