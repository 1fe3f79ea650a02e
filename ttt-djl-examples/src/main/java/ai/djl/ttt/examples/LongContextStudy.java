package ai.djl.ttt.examples;

import ai.djl.Device;
import ai.djl.MalformedModelException;
import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.training.ParameterStore;
import ai.djl.ttt.config.LayerType;
import ai.djl.ttt.config.TttConfig;
import ai.djl.ttt.lm.CausalLm;
import ai.djl.ttt.lm.LmState;
import ai.djl.ttt.recall.AssociativeRecall;
import ai.djl.ttt.recall.RecallTraining;
import ai.djl.ttt.runtime.AtomicFiles;
import ai.djl.ttt.runtime.NoGrad;
import ai.djl.ttt.training.ByteTokenizer;
import ai.djl.ttt.training.Corpus;
import ai.djl.ttt.training.LmTraining;
import ai.djl.ttt.training.ModelDirectory;
import ai.djl.ttt.training.TrainingSettings;
import ai.djl.ttt.training.TrainingState;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * The runs of {@code ttt long-context}, one per worker process: a recall training ({@link
 * RecallJob}: train on the MQAR mixture, choose-by accuracy on validation sequences, accuracy on
 * test sequences, the size of the decode state) and a long-context LM training (checkpointed in the
 * work folder, resumed from there, then its loss at every position of every held-out window).
 *
 * <p>Every contender is the same {@link CausalLm} scaffold ({@code tiny}: C = 64, 2 blocks) with
 * its SwiGLU widened so that all contenders of a group have the same number of parameters.
 */
final class LongContextStudy {

    /** Validation sequences come from seeds this far above the test seed: never the same ones. */
    static final long VALIDATION_SEED_OFFSET = 1_000_003L;

    private final LongContextCommand c;
    private final Device device;

    LongContextStudy(LongContextCommand command, Device device) {
        this.c = command;
        this.device = device;
    }

    /**
     * A trained contender's recall.
     *
     * @param key the job's {@link RecallJob#key()}
     * @param name the contender's display name
     * @param parameters the model's parameter count
     * @param stateFloats floats in the decode state after a prompt of the pairs sweep's length
     * @param seconds training wall time
     * @param finalLoss the mean training loss of the last tenth of the steps
     * @param validation the mean validation accuracy over the pairs sweep (chooses the learning
     *     rate)
     * @param accuracy test accuracy per task of {@link LongContextCommand#tasks()}, in its order
     * @param fingerprint the settings the run depends on besides its key
     */
    record RecallRun(
            String key,
            String name,
            long parameters,
            long stateFloats,
            double seconds,
            double finalLoss,
            double validation,
            double[] accuracy,
            String fingerprint) {

        RecallJob job() {
            return RecallJob.parse(key);
        }
    }

    /**
     * A long-context LM's held-out loss.
     *
     * @param name the contender's display name
     * @param parameters the parameter count
     * @param steps training steps
     * @param seconds training wall time, summed over resumed runs
     * @param loss {@code (windows, T)} nats per token
     * @param fingerprint the settings the run depends on
     */
    record PositionRun(
            String name,
            long parameters,
            int steps,
            double seconds,
            float[][] loss,
            String fingerprint) {}

    /** Trains a contender on recall and measures it. */
    RecallRun recall(RecallJob job, List<AssociativeRecall> tasks, PrintStream log)
            throws Exception {
        List<AssociativeRecall> training = c.trainingTasks();
        try (Model model = recallModel(job, training.get(0).length())) {
            TrainingSettings settings =
                    new TrainingSettings(
                            job.steps(),
                            Math.max(1, c.tokensPerStep / training.get(0).length()),
                            training.get(0).length(),
                            job.learningRate(),
                            job.learningRate() / 10,
                            Math.max(1, job.steps() / 10),
                            0.1f,
                            1f,
                            Math.max(1, job.steps() / 5),
                            0,
                            c.seed);
            LossTail tail = new LossTail(Math.max(1, job.steps() / 10));
            long t0 = System.nanoTime();
            RecallTraining.train(model, training, settings, log, tail);
            double seconds = (System.nanoTime() - t0) / 1e9;
            double validation = 0;
            List<AssociativeRecall> byPairs = c.pairsSweep();
            for (AssociativeRecall task : byPairs) {
                validation +=
                        RecallTraining.accuracy(
                                        model,
                                        task,
                                        Math.max(1, c.evalSequences / 2),
                                        c.seed + VALIDATION_SEED_OFFSET,
                                        batch(task))
                                .value();
            }
            validation /= byPairs.size();
            double[] accuracy = new double[tasks.size()];
            StringBuilder summary = new StringBuilder();
            for (int i = 0; i < tasks.size(); i++) {
                AssociativeRecall task = tasks.get(i);
                accuracy[i] =
                        RecallTraining.accuracy(model, task, c.evalSequences, c.seed, batch(task))
                                .value();
                summary.append(
                        String.format(
                                Locale.ROOT,
                                "  %d pairs/%d tokens %.1f%%",
                                task.pairs(),
                                task.length(),
                                100 * accuracy[i]));
            }
            long state = stateFloats(model, c.pairsSweepLength);
            log.printf(
                    Locale.ROOT,
                    "trained in %.0f s; validation %.1f%%; state %,d floats; recall:%s%n",
                    seconds,
                    100 * validation,
                    state,
                    summary);
            return new RecallRun(
                    job.key(),
                    label(model),
                    parameters(model.getBlock()),
                    state,
                    seconds,
                    tail.mean(),
                    validation,
                    accuracy,
                    c.recallFingerprint());
        }
    }

    private int batch(AssociativeRecall task) {
        return Math.max(1, c.tokensPerStep / task.length());
    }

    /**
     * Trains (or resumes) a byte-level LM at the long context, checkpointing into the work folder,
     * then measures its loss at every position of every held-out window.
     */
    PositionRun positionLoss(String contender, Path dir, PrintStream log) throws Exception {
        ByteTokenizer tokenizer = new ByteTokenizer();
        LmTraining.Data data = LmTraining.split(Corpus.resource("/ttt-corpus.txt"), tokenizer, 0.1);
        TrainingSettings settings =
                new TrainingSettings(
                        c.lmSteps,
                        c.lmBatch,
                        c.lmContext,
                        c.lmLearningRate,
                        c.lmLearningRate / 10,
                        Math.max(1, c.lmSteps / 10),
                        0.1f,
                        1f,
                        Math.max(1, c.lmSteps / 4),
                        Math.max(1, c.lmSteps / 10),
                        c.seed);
        Path timeFile = dir.resolve("seconds.txt");
        TrainingState resume = null;
        Model model;
        if (Files.isRegularFile(dir.resolve("training.json"))) {
            ModelDirectory.Loaded loaded = ModelDirectory.load(dir, device);
            model = loaded.model();
            resume = loaded.training();
            if (!settings.equals(resume.settings)) {
                model.close();
                throw new IllegalArgumentException(
                        dir
                                + " holds a run with other settings ("
                                + resume.settings
                                + "); delete it or pass another --work-dir");
            }
            log.printf("resuming %s at step %d%n", dir, resume.step);
        } else {
            model = model(contender, c.lmContenders, tokenizer.vocabSize(), c.lmContext, null);
            ModelDirectory.clear(dir);
        }
        try (Model m = model) {
            double before = Files.isRegularFile(timeFile) ? readSeconds(timeFile) : 0;
            long t0 = System.nanoTime();
            LmTraining.train(m, tokenizer, data, settings, dir, resume, log);
            double seconds = before + (System.nanoTime() - t0) / 1e9;
            AtomicFiles.writeAtomically(timeFile, String.format(Locale.ROOT, "%.1f%n", seconds));
            float[][] loss =
                    LmTraining.lossByWindowAndPosition(
                            m, data.validationTokens(), c.lmContext, c.lmBatch, c.lmWindows);
            return new PositionRun(
                    label(m),
                    parameters(m.getBlock()),
                    c.lmSteps,
                    seconds,
                    loss,
                    c.lmFingerprint());
        }
    }

    private static double readSeconds(Path file) throws IOException {
        try {
            return Double.parseDouble(Files.readString(file).trim());
        } catch (NumberFormatException e) {
            throw new IOException(file + " does not hold a number of seconds", e);
        }
    }

    private Model recallModel(RecallJob job, int length) throws MalformedModelException {
        return model(job.contender(), c.contenders, c.vocab, length, job);
    }

    /**
     * A contender's model, its parameter count matched to the largest of its group by widening the
     * SwiGLU blocks (a TTT-MLP layer has more parameters than an attention layer of the same
     * width): every contender gets the same budget, within one SwiGLU unit.
     *
     * @param variant the heads and inner-model variant, or {@code null} for the scaffold
     */
    private Model model(
            String contender, List<String> group, int vocabSize, int length, RecallJob variant)
            throws MalformedModelException {
        long budget = 0;
        for (String other : group) {
            budget = Math.max(budget, parameters(config(other, vocabSize, null)));
        }
        TttConfig config = config(contender, vocabSize, variant);
        long perUnit = 3L * config.getHiddenSize() * config.getNumHiddenLayers(); // gate, up, down
        int wider =
                config.getIntermediateSize()
                        + (int) Math.round((budget - parameters(config)) / (double) perUnit);
        if (wider < 1) {
            throw new MalformedModelException(
                    contender + " has more parameters than the group's budget of " + budget);
        }
        config = config.toBuilder().setIntermediateSize(wider).build();
        Model model = Model.newInstance(contender, device);
        CausalLm lm = new CausalLm(config);
        Engine.getInstance().setRandomSeed((int) c.seed);
        lm.initialize(model.getNDManager(), DataType.FLOAT32, new Shape(1, length));
        model.setBlock(lm);
        return model;
    }

    /**
     * The config of {@code layer:backbone}: backbone {@code mamba} or {@code transformer} as the
     * CLI's {@code --backbone}, or {@code conv}: the Transformer backbone plus the block's causal
     * pre-convolution (the one part of the Mamba backbone that lives in the block, so attention can
     * have it too).
     */
    static TttConfig config(String contender, int vocabSize, RecallJob variant) {
        String[] parts = contender.split(":", 2);
        String backbone = parts.length > 1 ? parts[1] : "mamba";
        boolean conv = backbone.equals("conv");
        TttConfig config =
                ModelOptions.config(parts[0], conv ? "transformer" : backbone, "tiny", vocabSize);
        TttConfig.Builder b = config.toBuilder();
        if (conv) {
            b.setPreConv(true);
        }
        if (variant != null && variant.heads() > 0) {
            b.setNumAttentionHeads(variant.heads());
        }
        if (variant != null && variant.innerLr() > 0) {
            b.setTttBaseLr(variant.innerLr());
        }
        if (variant != null && variant.innerHidden() > 0) {
            b.setInnerHiddenMultiples(List.of(variant.innerHidden()));
        }
        return b.build();
    }

    /**
     * Whether a contender's decode state has a fixed size (TTT layers, linear attention), as
     * opposed to attention's cache that grows with the context.
     */
    static boolean fixedState(String contender) {
        return LayerType.fromOfficialName(contender.split(":", 2)[0]) != LayerType.ATTENTION;
    }

    private long parameters(TttConfig config) {
        try (NDManager m = NDManager.newBaseManager(device)) {
            CausalLm lm = new CausalLm(config);
            lm.initialize(m, DataType.FLOAT32, new Shape(1, 16));
            return parameters(lm);
        }
    }

    /**
     * The floats a model carries from token to token while decoding, after a prompt of {@code
     * length} tokens: the sum of the sizes of every array of its {@link LmState} (TTT weights,
     * linear-attention sums, key/value caches, convolution windows), measured, not computed.
     */
    static long stateFloats(Model model, int length) {
        CausalLm lm = (CausalLm) model.getBlock();
        ParameterStore ps = new ParameterStore(model.getNDManager(), false);
        try (NDManager m = model.getNDManager().newSubManager();
                NoGrad off = NoGrad.open(m)) {
            NDArray ids = m.ones(new Shape(1, length), DataType.INT64);
            LmState state = lm.prefill(ps, ids, null, false).state();
            long floats = state.arrays().stream().mapToLong(NDArray::size).sum();
            state.close();
            return floats;
        }
    }

    static String label(Model model) {
        TttConfig c = ((CausalLm) model.getBlock()).getConfig();
        String backbone;
        if (c.getLayerType().isTtt()) {
            backbone = c.isPreConv() ? "mamba" : "transformer";
        } else {
            backbone = c.isPreConv() ? "pre-conv" : "transformer";
        }
        return c.getLayerType().displayName() + " (" + backbone + ")";
    }

    static long parameters(Block block) {
        return block.getParameters().values().stream().mapToLong(p -> p.getArray().size()).sum();
    }
}
