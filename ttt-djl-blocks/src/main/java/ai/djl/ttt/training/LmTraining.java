package ai.djl.ttt.training;

import ai.djl.Device;
import ai.djl.MalformedModelException;
import ai.djl.Model;
import ai.djl.TrainingDivergedException;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.ParameterStore;
import ai.djl.training.Trainer;
import ai.djl.training.dataset.Batch;
import ai.djl.training.listener.TrainingListener;
import ai.djl.training.tracker.Tracker;
import ai.djl.translate.TranslateException;
import ai.djl.ttt.lm.CausalLm;
import ai.djl.ttt.lm.LmState;
import ai.djl.ttt.runtime.NoGrad;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Iterator;

/**
 * Trains a causal LM with DJL's {@link Trainer}: the outer loop of the paper's recipe, scaled to a
 * CPU. Each step: forward and {@link LmLoss}, backward, {@link GradientClipping} to a global norm,
 * a {@link MaskedAdamW} step with a warm-up + cosine learning rate (DJL's {@code WarmUpTracker} and
 * {@code CosineTracker}), then the {@link TrainingListener}s: DJL's defaults (loss evaluator,
 * divergence check), {@link ProgressListener}, {@link ValidationListener}, {@link
 * InnerLossListener} and {@link CheckpointListener}.
 *
 * <p>DJL's {@code EasyTrain.fit} has no place for gradient clipping between backward and the
 * optimizer step, and DJL's own clipping is one-sided on PyTorch; hence this loop, whose step is
 * {@link TrainingStep} (the batch split over the trainer's devices as DJL splits it).
 */
public final class LmTraining {

    private LmTraining() {}

    /**
     * A corpus split and tokenized.
     *
     * @param trainTokens the training split's tokens
     * @param validationTokens the validation split's tokens
     * @param trainBytes UTF-8 bytes of the training text
     * @param validationBytes UTF-8 bytes of the validation text
     */
    public record Data(
            long[] trainTokens, long[] validationTokens, long trainBytes, long validationBytes) {}

    /**
     * Splits a text at a line break near {@code 1 − validationFraction} of its length (the end is
     * held out, so no validation text was seen in training) and tokenizes both parts.
     *
     * @param text the corpus
     * @param tokenizer the tokenizer
     * @param validationFraction the held-out share, in (0, 1)
     * @return the data
     */
    public static Data split(String text, Tokenizer tokenizer, double validationFraction) {
        if (!(validationFraction > 0 && validationFraction < 1)) {
            throw new IllegalArgumentException(
                    "validation fraction must be in (0, 1), got " + validationFraction);
        }
        int cut = (int) (text.length() * (1 - validationFraction));
        int lineBreak = text.lastIndexOf('\n', cut);
        cut = lineBreak > 0 ? lineBreak + 1 : cut;
        String train = text.substring(0, cut);
        String validation = text.substring(cut);
        return new Data(
                tokenizer.encode(train),
                tokenizer.encode(validation),
                train.getBytes(StandardCharsets.UTF_8).length,
                validation.getBytes(StandardCharsets.UTF_8).length);
    }

    /**
     * Checks that the training split holds at least one batch of windows, so that a run can be
     * refused before anything is written.
     *
     * @param data the data
     * @param settings the settings
     * @throws IllegalArgumentException if it holds fewer windows than one batch
     */
    public static void requireOneBatch(Data data, TrainingSettings settings) {
        int windows = Math.max(0, data.trainTokens().length - 1) / settings.contextLength();
        if (windows < settings.batchSize()) {
            throw new IllegalArgumentException(
                    "the training split has "
                            + windows
                            + " windows of "
                            + settings.contextLength()
                            + " tokens, fewer than one batch of "
                            + settings.batchSize()
                            + ": use a larger corpus or a smaller batch/context");
        }
    }

    /**
     * Trains, or resumes training of, a model.
     *
     * @param model the model; its block an initialised {@code CausalLm} (loaded, for a resume)
     * @param tokenizer the tokenizer (saved with checkpoints)
     * @param data the tokenized corpus
     * @param settings the recipe
     * @param modelDir where checkpoints go, or {@code null} for none
     * @param resume the state of the run to continue (with the optimizer state in {@code
     *     modelDir}), or {@code null} for a new run
     * @param log where progress and validation lines go
     * @param extraListeners more DJL listeners, called after the built-in ones at every step
     * @return the final state
     * @throws IOException if a checkpoint cannot be written or read
     * @throws TrainingDivergedException if a step's loss or gradient norm is NaN or infinite: that
     *     step is not applied and no checkpoint is written after it
     */
    public static TrainingState train(
            Model model,
            Tokenizer tokenizer,
            Data data,
            TrainingSettings settings,
            Path modelDir,
            TrainingState resume,
            PrintStream log,
            TrainingListener... extraListeners)
            throws IOException {
        return train(
                model,
                tokenizer,
                data,
                settings,
                new Device[] {model.getNDManager().getDevice()},
                modelDir,
                resume,
                log,
                extraListeners);
    }

    /**
     * Trains, or resumes training of, a model on several devices (DJL's data parallelism, see
     * {@link TrainingStep}).
     *
     * @param model the model; its block an initialised {@code CausalLm} (loaded, for a resume)
     * @param tokenizer the tokenizer (saved with checkpoints)
     * @param data the tokenized corpus
     * @param settings the recipe
     * @param devices where the batches are split (as DJL's {@code EasyTrain} splits them): one or
     *     more devices, the model's own among them
     * @param modelDir where checkpoints go, or {@code null} for none
     * @param resume the state of the run to continue (with the optimizer state in {@code
     *     modelDir}), or {@code null} for a new run
     * @param log where progress and validation lines go
     * @param extraListeners more DJL listeners, called after the built-in ones at every step
     * @return the final state
     * @throws IOException if a checkpoint cannot be written or read
     */
    public static TrainingState train(
            Model model,
            Tokenizer tokenizer,
            Data data,
            TrainingSettings settings,
            Device[] devices,
            Path modelDir,
            TrainingState resume,
            PrintStream log,
            TrainingListener... extraListeners)
            throws IOException {
        TrainingState state = resume == null ? new TrainingState() : resume;
        state.settings = settings;
        requireOneBatch(data, settings);
        TokenWindowDataset trainSet =
                TokenWindowDataset.builder()
                        .setTokens(data.trainTokens())
                        .setWindowLength(settings.contextLength())
                        .setSampling(
                                new WindowSampler(
                                        settings.batchSize(), settings.seed(), state.step))
                        .build();

        MaskedAdamW optimizer =
                MaskedAdamW.builder()
                        .setBlock(model.getBlock())
                        .optLearningRateTracker(schedule(settings))
                        .optWeightDecay(settings.weightDecay())
                        .build();
        if (resume != null) {
            Path file = ModelDirectory.optimizerFileToResume(modelDir, state.step);
            try {
                optimizer.load(file, model.getBlock());
            } catch (MalformedModelException e) {
                throw new IOException("cannot resume: " + e.getMessage(), e);
            }
            // the legacy file's name holds no step, and its saves had no commit: check it
            if (file.endsWith(ModelDirectory.LEGACY_OPTIMIZER_FILE)
                    && optimizer.getStep() != state.step) {
                throw new IOException(
                        "cannot resume: "
                                + file
                                + " holds the optimizer state after step "
                                + optimizer.getStep()
                                + " but training.json names step "
                                + state.step
                                + " (a save of an older version that did not complete)");
            }
        }
        Evaluation evaluation = new Evaluation(data, settings);
        DefaultTrainingConfig config =
                new DefaultTrainingConfig(new LmLoss())
                        .optOptimizer(optimizer)
                        .optDevices(devices)
                        .addTrainingListeners(TrainingListener.Defaults.basic())
                        .addTrainingListeners(
                                new ProgressListener(settings, state, log),
                                new ValidationListener(settings, state, evaluation, log),
                                new InnerLossListener(state, settings.validateEvery(), log));
        if (modelDir != null) {
            config.addTrainingListeners(
                    new CheckpointListener(settings, state, modelDir, tokenizer, optimizer, log));
        }
        config.addTrainingListeners(extraListeners);
        // what trainer.initialize does, without its parameter copies (TrainingStep keeps those);
        // initialised parameters keep their values
        model.getBlock()
                .initialize(
                        model.getNDManager(),
                        model.getDataType(),
                        new Shape(settings.batchSize(), settings.contextLength()));
        try (Trainer trainer = model.newTrainer(config);
                TrainingStep step = new TrainingStep(trainer, optimizer)) {
            Iterator<Batch> batches = trainer.iterateDataset(trainSet).iterator();
            while (state.step < settings.steps()) {
                Batch batch = batches.next();
                TrainingListener.BatchData batchData;
                try {
                    batchData = step.run(batch, settings.clipNorm());
                } catch (TrainingDivergedException e) {
                    batch.close();
                    throw new TrainingDivergedException(
                            "step "
                                    + (state.step + 1)
                                    + ": "
                                    + e.getMessage()
                                    + ". Lower the learning rate (now "
                                    + settings.learningRate()
                                    + ") or the clipping norm (now "
                                    + settings.clipNorm()
                                    + ")"
                                    + (modelDir == null
                                            ? ""
                                            : ". "
                                                    + modelDir
                                                    + " keeps its last complete checkpoint"),
                            e);
                }
                state.step++;
                state.tokensSeen += (long) settings.batchSize() * settings.contextLength();
                trainer.notifyListeners(l -> l.onTrainingBatch(trainer, batchData));
                batch.close();
            }
            trainer.notifyListeners(l -> l.onTrainingEnd(trainer));
        } catch (TranslateException e) {
            throw new IOException("cannot read a training batch: " + e.getMessage(), e);
        }
        return state;
    }

    /**
     * The learning-rate schedule of a recipe: linear warm-up from 0, then cosine decay to the final
     * learning rate.
     *
     * @param s the recipe
     * @return DJL's tracker for the optimizer
     */
    public static Tracker schedule(TrainingSettings s) {
        Tracker cosine =
                Tracker.cosine()
                        .setBaseValue(s.learningRate())
                        .optFinalValue(s.finalLearningRate())
                        .setMaxUpdates(Math.max(1, s.steps() - s.warmupSteps()))
                        .build();
        if (s.warmupSteps() == 0) {
            return cosine;
        }
        return Tracker.warmUp()
                .optWarmUpBeginValue(0f)
                .optWarmUpSteps(s.warmupSteps())
                .setMainTracker(cosine)
                .build();
    }

    /**
     * The mean next-token loss of a model on a token stream, in windows of the training length
     * (each window starts from a fresh state, as in training).
     *
     * @param model the model
     * @param tokens the stream
     * @param contextLength T
     * @param batchSize windows per forward
     * @param maxWindows at most this many windows, evenly spread over the stream (0 for all)
     * @return nats per token
     */
    public static double meanLoss(
            Model model, long[] tokens, int contextLength, int batchSize, int maxWindows) {
        int available = (tokens.length - 1) / contextLength;
        int windows = maxWindows > 0 ? Math.min(available, maxWindows) : 0;
        return Arrays.stream(lossByPosition(model, tokens, contextLength, batchSize, windows))
                .average()
                .orElseThrow();
    }

    /**
     * The mean next-token loss over the stream's non-overlapping windows of {@code contextLength}
     * tokens, as {@link #meanLoss} with every window, but computed as generation computes it: one
     * window (row) and one token per call, the state carried from token to token. The numbers are
     * {@link #meanLoss}'s up to rounding; what differs is that every product is a one-row product,
     * the kind a {@code FLOAT16} model multiplies by its float16 weights on a CPU (see {@link
     * CausalLm#setPrecision}), so this measures what float16 decoding costs in loss.
     *
     * @param model the model, whose block is a {@link CausalLm}
     * @param tokens the stream
     * @param contextLength T, the window length
     * @param maxWindows at most this many windows (the first ones); 0 for all
     * @return nats per token
     * @throws IllegalArgumentException if the stream is shorter than one window
     */
    public static double meanLossByToken(
            Model model, long[] tokens, int contextLength, int maxWindows) {
        int available = (tokens.length - 1) / contextLength;
        if (available == 0) {
            throw new IllegalArgumentException(
                    "need at least " + (contextLength + 1) + " tokens, got " + tokens.length);
        }
        int windows = maxWindows > 0 ? Math.min(available, maxWindows) : available;
        CausalLm lm = (CausalLm) model.getBlock();
        ParameterStore ps = new ParameterStore(model.getNDManager(), false);
        double sum = 0;
        for (int w = 0; w < windows; w++) {
            int start = w * contextLength;
            try (NDManager m = model.getNDManager().newSubManager();
                    NoGrad off = NoGrad.open(m)) {
                LmState state = null;
                for (int t = 0; t < contextLength; t++) {
                    try (NDManager step = m.newSubManager()) {
                        NDArray id = step.create(new long[] {tokens[start + t]}, new Shape(1, 1));
                        NDArray label =
                                step.create(new long[] {tokens[start + t + 1]}, new Shape(1, 1));
                        CausalLm.Output out = lm.prefill(ps, id, state, false);
                        sum += LmLoss.perToken(out.logits(), label).getFloat();
                        out.state().attach(m);
                        if (state != null) {
                            state.close();
                        }
                        state = out.state();
                    }
                }
            }
        }
        return sum / ((double) windows * contextLength);
    }

    /**
     * The next-token loss at each position of a window, averaged over windows of the stream (each
     * starts from a fresh state): how much the model gains from the context it has read so far.
     *
     * @param model the model
     * @param tokens the stream
     * @param contextLength T, the window length
     * @param batchSize windows per forward
     * @param windows how many windows, evenly spread over the stream; overlapping when the stream
     *     holds fewer (more windows average the text's own ups and downs out of each position); 0
     *     for every non-overlapping window
     * @return {@code T} values, nats per token; entry {@code t} is the loss of predicting token
     *     {@code t + 1} from tokens {@code 0..t}
     * @throws IllegalArgumentException if the stream is shorter than one window
     */
    public static double[] lossByPosition(
            Model model, long[] tokens, int contextLength, int batchSize, int windows) {
        float[][] perWindow =
                lossByWindowAndPosition(model, tokens, contextLength, batchSize, windows);
        double[] mean = new double[contextLength];
        for (float[] window : perWindow) {
            for (int t = 0; t < contextLength; t++) {
                mean[t] += window[t];
            }
        }
        for (int t = 0; t < contextLength; t++) {
            mean[t] /= perWindow.length;
        }
        return mean;
    }

    /**
     * The next-token loss at each position of each window (each starts from a fresh state), for
     * statistics across windows such as a confidence interval of a position's mean loss.
     *
     * @param model the model
     * @param tokens the stream
     * @param contextLength T, the window length
     * @param batchSize windows per forward
     * @param windows how many windows, as in {@link #lossByPosition}; 0 for every non-overlapping
     *     window
     * @return {@code (windows, T)}, nats per token
     * @throws IllegalArgumentException if the stream is shorter than one window
     */
    public static float[][] lossByWindowAndPosition(
            Model model, long[] tokens, int contextLength, int batchSize, int windows) {
        int available = (tokens.length - 1) / contextLength;
        int count = windows > 0 ? windows : available;
        if (available == 0) {
            throw new IllegalArgumentException(
                    "need at least " + (contextLength + 1) + " tokens, got " + tokens.length);
        }
        ParameterStore ps = new ParameterStore(model.getNDManager(), false);
        float[][] loss = new float[count][];
        for (int first = 0; first < count; first += batchSize) {
            int rows = Math.min(batchSize, count - first);
            long[] x = new long[rows * contextLength];
            long[] y = new long[rows * contextLength];
            for (int r = 0; r < rows; r++) {
                long start = windowStart(first + r, count, available, tokens.length, contextLength);
                System.arraycopy(tokens, (int) start, x, r * contextLength, contextLength);
                System.arraycopy(tokens, (int) start + 1, y, r * contextLength, contextLength);
            }
            try (NDManager m = model.getNDManager().newSubManager();
                    NoGrad off = NoGrad.open(m)) {
                NDArray ids = m.create(x, new Shape(rows, contextLength));
                NDArray labels = m.create(y, new Shape(rows, contextLength));
                NDArray logits = model.getBlock().forward(ps, new NDList(ids), false).head();
                float[] losses = LmLoss.perToken(logits, labels).toFloatArray();
                for (int r = 0; r < rows; r++) {
                    loss[first + r] =
                            Arrays.copyOfRange(losses, r * contextLength, (r + 1) * contextLength);
                }
            }
        }
        return loss;
    }

    /**
     * Where window {@code i} of {@code windows} starts: on a multiple of T when the stream holds
     * that many windows, else evenly spread from 0 to the last possible start.
     */
    private static long windowStart(int i, int windows, int available, int length, int t) {
        if (windows <= available) {
            return (long) i * available / windows * t;
        }
        long last = length - 1 - t;
        return windows == 1 ? 0 : Math.round((double) i * last / (windows - 1));
    }

    /** Train and validation losses as bits per byte. */
    static final class Evaluation {
        private final Data data;
        private final TrainingSettings settings;

        Evaluation(Data data, TrainingSettings settings) {
            this.data = data;
            this.settings = settings;
        }

        TrainingState.Evaluation validate(Model model, int step) {
            double loss =
                    meanLoss(
                            model,
                            data.validationTokens(),
                            settings.contextLength(),
                            settings.batchSize(),
                            0);
            return new TrainingState.Evaluation(
                    step,
                    loss,
                    UnigramBaseline.bitsPerByte(
                            loss, data.validationTokens().length, data.validationBytes()));
        }
    }
}
