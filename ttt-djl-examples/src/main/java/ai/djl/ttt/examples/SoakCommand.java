package ai.djl.ttt.examples;

import ai.djl.Application;
import ai.djl.Device;
import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.inference.Predictor;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.training.Trainer;
import ai.djl.training.listener.TrainingListener;
import ai.djl.training.listener.TrainingListenerAdapter;
import ai.djl.translate.Translator;
import ai.djl.ttt.config.TttConfig;
import ai.djl.ttt.lm.CausalLm;
import ai.djl.ttt.lm.Generator;
import ai.djl.ttt.lm.SamplingConfig;
import ai.djl.ttt.training.ByteTokenizer;
import ai.djl.ttt.training.Corpus;
import ai.djl.ttt.training.LmTraining;
import ai.djl.ttt.training.ModelDirectory;
import ai.djl.ttt.training.TrainingSettings;
import ai.djl.ttt.training.TrainingState;
import ai.djl.ttt.zoo.TextScore;
import ai.djl.ttt.zoo.TttModelZoo;
import ai.djl.ttt.zoo.TttTranslatorFactory;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code ttt soak}: long runs that a leak or a race would break. Decodes many tokens and trains
 * many steps of a tiny model with the native resident set sampled, then runs threads that share one
 * {@code ZooModel} with mixed generation and scoring and compares every result with one thread's.
 */
@Command(
        name = "soak",
        mixinStandardHelpOptions = true,
        description = {
            "Soak test of a tiny TTT-Linear model (not part of the default build): decoding,"
                    + " training, and threads sharing one ZooModel, with the resident set (VmRSS"
                    + " of /proc/self/status, after a GC) sampled along the way.",
            "Fails (exit status 1) when the resident set grows by more than --rss-bound-mib after"
                    + " the warm-up (the first tenth of a phase), or when a thread's result"
                    + " differs from the single-thread result."
        })
final class SoakCommand implements Callable<Integer> {

    @Option(
            names = "--decode-steps",
            defaultValue = "20000",
            description = "tokens decoded in one sequence (default ${DEFAULT-VALUE})")
    int decodeSteps;

    @Option(
            names = "--train-steps",
            defaultValue = "2000",
            description = "training steps (default ${DEFAULT-VALUE})")
    int trainSteps;

    @Option(
            names = "--workers",
            defaultValue = "8",
            description = "threads sharing one ZooModel (default ${DEFAULT-VALUE})")
    int workers;

    @Option(
            names = "--seconds",
            defaultValue = "600",
            description = "duration of the shared-model phase (default ${DEFAULT-VALUE})")
    int seconds;

    @Option(
            names = "--rss-bound-mib",
            defaultValue = "64",
            description =
                    "largest accepted growth of the resident set after warm-up (default"
                            + " ${DEFAULT-VALUE})")
    int rssBoundMib;

    @Mixin EngineOptions engine;

    @Mixin DeviceOptions device;

    private final PrintStream out = System.out;
    private boolean failed;
    private final StringBuilder series = new StringBuilder();

    /** {@inheritDoc} */
    @Override
    public Integer call() throws Exception {
        Options.requireAtLeast("--decode-steps", decodeSteps, 20);
        Options.requireAtLeast("--train-steps", trainSteps, 20);
        Options.requireBetween("--workers", workers, 1, 256);
        Options.requireAtLeast("--seconds", seconds, 1);
        Options.requireAtLeast("--rss-bound-mib", rssBoundMib, 1);
        Device on = device.get(); // before any output: a missing GPU is one error line
        engine.apply("tiny");
        Engine.getInstance().setRandomSeed(42);
        out.printf(
                Locale.ROOT,
                "soak: tiny TTT-Linear (mamba backbone), intra-op threads %s, bound %d MiB%n",
                System.getProperty("ai.djl.pytorch.num_threads"),
                rssBoundMib);
        out.println(
                "| phase | work | duration | RSS MiB: start / after warm-up / end / max | growth after warm-up | result |");
        out.println("|---|---|---|---|---|---|");
        Path dir = Files.createTempDirectory("ttt-soak");
        try {
            ByteTokenizer tokenizer = new ByteTokenizer();
            try (Model model = newModel(tokenizer.vocabSize(), on)) {
                decode(model);
                train(model, tokenizer);
                ModelDirectory.save(dir.resolve("soak-model"), model, tokenizer, null, null);
            }
            shared(dir, tokenizer, on);
        } finally {
            ModelDirectory.clear(dir.resolve("soak-model"));
            Files.deleteIfExists(dir.resolve("soak-model"));
            Files.deleteIfExists(dir);
        }
        out.println();
        out.print("RSS samples, MiB, every twentieth of each phase:\n" + series);
        out.println(failed ? "FAIL" : "PASS");
        return failed ? 1 : 0;
    }

    private static Model newModel(int vocab, Device on) {
        TttConfig config = ModelOptions.config("linear", "mamba", "tiny", vocab);
        Model model = Model.newInstance(ModelDirectory.MODEL_NAME, on);
        CausalLm lm = new CausalLm(config);
        lm.initialize(model.getNDManager(), DataType.FLOAT32, new Shape(1, 16));
        model.setBlock(lm);
        return model;
    }

    /** One sequence decoded token by token, the resident set sampled every twentieth. */
    private void decode(Model model) throws IOException {
        Samples rss = new Samples();
        long every = Math.max(1, decodeSteps / 20);
        long start = System.nanoTime();
        SamplingConfig sampling =
                SamplingConfig.builder()
                        .optMaxNewTokens(decodeSteps)
                        .optTemperature(0.8)
                        .optTopK(40)
                        .optSeed(42)
                        .build();
        AtomicLong count = new AtomicLong();
        new Generator((CausalLm) model.getBlock(), model.getNDManager())
                .generate(
                        List.of(new ByteTokenizer().encode("The state ")),
                        sampling,
                        (row, token) -> {
                            if (count.incrementAndGet() % every == 0) {
                                rss.sample();
                            }
                        });
        report(
                "decode",
                String.format(Locale.ROOT, "%,d tokens, one sequence", count.get()),
                start,
                rss,
                true);
    }

    /** Training steps of DJL's Trainer on the bundled corpus, sampled every twentieth step. */
    private void train(Model model, ByteTokenizer tokenizer) throws IOException {
        LmTraining.Data data = LmTraining.split(Corpus.resource("/ttt-corpus.txt"), tokenizer, 0.1);
        TrainingSettings settings =
                new TrainingSettings(
                        trainSteps,
                        4,
                        64,
                        3e-3f,
                        3e-4f,
                        Math.max(1, trainSteps / 10),
                        0.1f,
                        1.0f,
                        trainSteps,
                        0,
                        42);
        Samples rss = new Samples();
        int every = Math.max(1, trainSteps / 20);
        TrainingListener sampler =
                new TrainingListenerAdapter() {
                    private int step;

                    @Override
                    public void onTrainingBatch(Trainer trainer, BatchData batchData) {
                        // the last step also runs the final validation (its own allocations),
                        // so the training trend is sampled before it
                        if (++step % every == 0 && step < trainSteps) {
                            rss.sample();
                        }
                    }
                };
        long start = System.nanoTime();
        PrintStream quiet = new PrintStream(OutputStream.nullOutputStream());
        TrainingState state =
                LmTraining.train(model, tokenizer, data, settings, null, null, quiet, sampler);
        report(
                "train",
                String.format(
                        Locale.ROOT,
                        "%,d steps of 4 x 64 tokens (validation loss %.3f)",
                        state.step,
                        state.validations.get(state.validations.size() - 1).loss()),
                start,
                rss,
                true);
    }

    /** Threads sharing one ZooModel: generation and scoring, each result against one thread's. */
    private void shared(Path dir, ByteTokenizer tokenizer, Device on) throws Exception {
        String saved = System.getProperty(TttModelZoo.MODELS_PROPERTY);
        System.setProperty(TttModelZoo.MODELS_PROPERTY, dir.toString());
        List<String> prompts =
                List.of("The state ", "A TTT layer", "import ai.djl.", "xy", "/** Returns the ");
        Criteria<String, String> criteria =
                Criteria.builder()
                        .setTypes(String.class, String.class)
                        .optApplication(Application.NLP.TEXT_GENERATION)
                        .optGroupId(TttModelZoo.GROUP_ID)
                        .optArtifactId("soak-model")
                        .optDevice(on)
                        .optArgument("maxNewTokens", 24)
                        .build();
        try (ZooModel<String, String> model = criteria.loadModel()) {
            Translator<String, TextScore> scoring =
                    new TttTranslatorFactory()
                            .newInstance(
                                    String.class,
                                    TextScore.class,
                                    model,
                                    Map.of(TttTranslatorFactory.TOKENIZER, tokenizer));
            List<String> texts = new ArrayList<>();
            List<TextScore> scores = new ArrayList<>();
            try (Predictor<String, String> generate = model.newPredictor();
                    Predictor<String, TextScore> score = model.newPredictor(scoring)) {
                for (String p : prompts) {
                    texts.add(generate.predict(p));
                    scores.add(score.predict(p));
                }
            }
            Samples rss = new Samples();
            AtomicLong done = new AtomicLong();
            AtomicLong mismatches = new AtomicLong();
            long start = System.nanoTime();
            long deadline = start + seconds * 1_000_000_000L;
            ExecutorService pool = Executors.newFixedThreadPool(workers);
            List<Future<?>> futures = new ArrayList<>();
            for (int w = 0; w < workers; w++) {
                int worker = w;
                futures.add(
                        pool.submit(
                                () -> {
                                    try (Predictor<String, String> generate = model.newPredictor();
                                            Predictor<String, TextScore> score =
                                                    model.newPredictor(scoring)) {
                                        for (long i = worker; System.nanoTime() < deadline; i++) {
                                            int k = (int) (i % prompts.size());
                                            boolean same =
                                                    i % 2 == 0
                                                            ? texts.get(k)
                                                                    .equals(
                                                                            generate.predict(
                                                                                    prompts.get(k)))
                                                            : sameScore(
                                                                    scores.get(k),
                                                                    score.predict(prompts.get(k)));
                                            if (!same) {
                                                mismatches.incrementAndGet();
                                            }
                                            done.incrementAndGet();
                                        }
                                    }
                                    return null;
                                }));
            }
            pool.shutdown();
            long every = Math.max(1, seconds * 1000L / 20);
            for (long now = System.nanoTime(); now < deadline; now = System.nanoTime()) {
                Thread.sleep(Math.max(1, Math.min(every, (deadline - now) / 1_000_000)));
                rss.sample();
            }
            pool.awaitTermination(10, java.util.concurrent.TimeUnit.MINUTES);
            for (Future<?> f : futures) {
                f.get();
            }
            boolean same = mismatches.get() == 0;
            if (!same) {
                failed = true;
            }
            report(
                    "shared ZooModel",
                    String.format(
                            Locale.ROOT,
                            "%d threads, %,d predictions (generation and scoring, alternating),"
                                    + " %d differ from one thread's",
                            workers,
                            done.get(),
                            mismatches.get()),
                    start,
                    rss,
                    same);
        } finally {
            if (saved == null) {
                System.clearProperty(TttModelZoo.MODELS_PROPERTY);
            } else {
                System.setProperty(TttModelZoo.MODELS_PROPERTY, saved);
            }
        }
    }

    private static boolean sameScore(TextScore a, TextScore b) {
        return Arrays.equals(a.tokens(), b.tokens())
                && Arrays.equals(a.logLikelihoods(), b.logLikelihoods())
                && a.bytes() == b.bytes();
    }

    private void report(String phase, String work, long startNanos, Samples rss, boolean ok) {
        double seconds = (System.nanoTime() - startNanos) / 1e9;
        double growth = rss.growthAfterWarmUp();
        boolean flat = growth <= rssBoundMib;
        if (!flat) {
            failed = true;
        }
        out.printf(
                Locale.ROOT,
                "| %s | %s | %.0f s | %.0f / %.0f / %.0f / %.0f | %+.1f MiB | %s |%n",
                phase,
                work,
                seconds,
                rss.first,
                rss.afterWarmUp(),
                rss.last(),
                rss.max(),
                growth,
                flat && ok ? "ok" : !flat ? "RSS GREW" : "RESULTS DIFFER");
        series.append(
                String.format(
                        Locale.ROOT,
                        "%s: %.0f (start), %s%n",
                        phase,
                        rss.first,
                        rss.values.stream()
                                .map(v -> String.format(Locale.ROOT, "%.0f", v))
                                .collect(java.util.stream.Collectors.joining(" "))));
        out.flush();
    }

    /** Resident-set samples in MiB, the first taken at creation. */
    private static final class Samples {
        final double first;
        final List<Double> values = new ArrayList<>();

        Samples() {
            first = rssMib();
        }

        synchronized void sample() {
            values.add(rssMib());
        }

        synchronized double afterWarmUp() {
            return values.isEmpty() ? first : values.get(Math.min(values.size() - 1, 1));
        }

        synchronized double last() {
            return values.isEmpty() ? first : values.get(values.size() - 1);
        }

        synchronized double max() {
            return values.stream().mapToDouble(Double::doubleValue).max().orElse(first);
        }

        double growthAfterWarmUp() {
            return last() - afterWarmUp();
        }

        private static double rssMib() {
            System.gc();
            try {
                return Measure.status("VmRSS") / 1024.0;
            } catch (IOException e) {
                return Double.NaN;
            }
        }
    }
}
