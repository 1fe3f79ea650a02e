package ai.djl.ttt.examples;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.ttt.config.LayerType;
import ai.djl.ttt.config.TttConfig;
import ai.djl.ttt.lm.CausalLm;
import ai.djl.ttt.lm.LmState;
import ai.djl.ttt.lm.SequenceLayers;
import ai.djl.ttt.nn.SequenceLayer;
import ai.djl.ttt.nn.TttLayer;
import ai.djl.ttt.nn.inner.InnerForm;
import ai.djl.ttt.runtime.Precision;
import ai.djl.ttt.runtime.ScanThreads;
import ai.djl.util.Pair;
import ai.djl.util.PairList;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code ttt bench speed}: the speed of TTT layers and models on this machine, side by side with
 * the attention baseline, the machine's own GEMM rate and memory bandwidth, and the official code's
 * figures. Prints each table as it is measured and writes {@code docs/benchmarks.md} with two PNG
 * plots.
 */
@Command(
        name = "speed",
        mixinStandardHelpOptions = true,
        description = {
            "Times TTT-Linear, TTT-MLP and the attention baseline at the 125m layer shape (C=768,"
                    + " 12 heads, mini-batch 16, B=1, float32): layer forward against context"
                    + " length, forward+backward in the dual and primal forms, the whole 125m"
                    + " model's forward and per-token decode at several positions, with a GEMM and"
                    + " a memory-bandwidth probe in the same run.",
            "Medians of --repeats runs after a warm-up; peak memory per case. Writes a markdown"
                    + " report with PNG plots (--out)."
        })
final class SpeedBench implements Callable<Integer> {

    /**
     * Untimed decode steps before the timed ones: the first steps after a long prefill are slower
     * (allocator and caches), and 2 were not enough to settle.
     */
    private static final int DECODE_WARMUP = 8;

    @Option(
            names = "--quick",
            description =
                    "a tiny setting that runs in seconds (C=64, short sequences): a smoke test")
    boolean quick;

    @Option(
            names = "--repeats",
            defaultValue = "5",
            description = "timed runs per case, after one warm-up (default ${DEFAULT-VALUE})")
    int repeats;

    @Option(
            names = "--threads",
            description = "PyTorch intra-op threads (default 2, or the cores if fewer)")
    Integer threadsOption;

    /** The threads: {@code --threads}, or 2 (the cores if fewer). */
    int threads;

    @Option(
            names = "--official",
            description =
                    "a JSON file of the official ttt.py's timings measured on this machine (format:"
                            + " docs/benchmarks.md); without it, the default figures listed in"
                            + " docs/benchmarks.md, measured on another machine")
    Path officialFile;

    @Mixin DeviceOptions device;

    @Option(
            names = "--dtype",
            split = ",",
            defaultValue = "float32,float16",
            description =
                    "the precisions whose decode is measured side by side (float32, float16;"
                            + " default ${DEFAULT-VALUE}); bfloat16 is refused (docs/precision.md)")
    List<String> dtypes;

    @Option(
            names = "--decode-only",
            description =
                    "only the machine probes and the precision comparison: decode at batch 1 and 8,"
                            + " TTT layer forward (a few minutes instead of the whole run); writes"
                            + " no report")
    boolean decodeOnly;

    @Option(
            names = "--rounds",
            defaultValue = "4",
            description =
                    "rounds of the precision comparison: each round decodes --repeats tokens in"
                            + " every precision in turn (default ${DEFAULT-VALUE})")
    int rounds;

    @Option(
            names = "--memory-case",
            hidden = true,
            description =
                    "internal: measure one case's peak memory in this fresh JVM (KIND:LAYER:ARG,"
                            + " see PeakMemory) and print it")
    String memoryCase;

    @Option(
            names = "--out",
            defaultValue = "docs/benchmarks.md",
            description = "the markdown report; plots go to img/ beside it; '-' for none")
    String out;

    private final StringBuilder report = new StringBuilder();
    private OfficialFigures official;
    private Setting setting;
    private double gflops;
    private double bandwidth;
    private double productBandwidth;
    private List<Precision> precisions;

    /** The sizes of one run: the real one, or the smoke test's. */
    private record Setting(
            TttConfig.Builder base,
            int[] lengths,
            int trainLength,
            int[] modelLengths,
            int[] decodePositions,
            int gemm,
            long copyFloats,
            int decodeSteps,
            int decodeBatch) {}

    /** {@inheritDoc} */
    @Override
    public Integer call() throws Exception {
        validate();
        System.setProperty("ai.djl.pytorch.num_threads", Integer.toString(threads));
        setting = quick ? quickSetting() : fullSetting();
        // the smoke test's tiny shapes have no official counterpart
        official =
                quick
                        ? OfficialFigures.none()
                        : officialFile == null
                                ? OfficialFigures.measuredElsewhere()
                                : OfficialFigures.read(officialFile);
        if (quick) {
            repeats = Math.min(repeats, 2);
        }
        if (memoryCase != null) {
            return measureMemoryCase();
        }
        Device on = device.get(); // before any output: a GPU libtorch does not see is one line
        header();
        try (NDManager manager = NDManager.newBaseManager(on)) {
            probes(manager);
            if (decodeOnly) {
                precisionDecode(manager);
                return 0;
            }
            Map<String, double[]> prefill = layerForward(manager);
            forwardBackward(manager);
            modelForward(manager);
            Map<String, double[]> decode = decode(manager);
            precisionDecode(manager);
            if (!"-".equals(out)) {
                writeReport(prefill, decode);
            }
        }
        return 0;
    }

    /** Checks the options before anything is measured: a bad one would fail a long run late. */
    private void validate() {
        Options.requireAtLeast("--repeats", repeats, 1);
        threads =
                threadsOption != null
                        ? threadsOption
                        : Math.min(2, Runtime.getRuntime().availableProcessors());
        Options.requireThreads("--threads", threads);
        if (officialFile != null && !Files.isRegularFile(officialFile)) {
            throw new IllegalArgumentException(
                    "--official "
                            + officialFile
                            + ": no such file (expected a JSON file of the official code's"
                            + " timings, see docs/benchmarks.md)");
        }
        Options.requireOutputFile("--out", out);
        Options.requireAtLeast("--rounds", rounds, 1);
        precisions = new ArrayList<>();
        for (String d : dtypes) {
            Precision p = Precision.parse(d);
            if (!precisions.contains(p)) {
                precisions.add(p);
            }
        }
    }

    private static Setting fullSetting() {
        return new Setting(
                TttConfig.builder().preset("125m"),
                new int[] {512, 1024, 2048, 4096, 8192},
                2048,
                new int[] {512, 2048},
                new int[] {1024, 4096, 8192},
                2048,
                64L << 20,
                16,
                8);
    }

    private static Setting quickSetting() {
        return new Setting(
                TttConfig.builder()
                        .setHiddenSize(64)
                        .setNumAttentionHeads(4)
                        .setNumHiddenLayers(2)
                        .setIntermediateSize(128)
                        .setVocabSize(256),
                new int[] {32, 64},
                64,
                new int[] {32},
                new int[] {32, 64},
                128,
                1L << 20,
                3,
                2);
    }

    private TttConfig config(LayerType type) {
        return setting.base().build().toBuilder().setLayerType(type).build();
    }

    private void header() throws IOException {
        emit("machine: %s%n", Report.machine());
        TttConfig c = config(LayerType.LINEAR);
        emit(
                "shape: C=%d, %d heads of f=%d, mini-batch %d, B=1, float32; medians of %d runs after"
                        + " 1 warm-up (forward+backward and whole-model forward: %d runs); dual and"
                        + " primal forms, and decode positions, measured in turn%n",
                c.getHiddenSize(),
                c.getNumAttentionHeads(),
                c.getHeadDim(),
                c.getMiniBatchSize(),
                repeats,
                Math.max(1, repeats - 2));
        if (!quick) {
            emit("official figures: %s%n", official.source());
        }
    }

    /** The machine's own rates, measured now: a square fp32 GEMM and a large copy. */
    private void probes(NDManager manager) throws Exception {
        int n = setting.gemm();
        NDArray a = manager.randomNormal(new Shape(n, n));
        NDArray b = manager.randomNormal(new Shape(n, n));
        Measure.Result gemm = Measure.time(1, repeats, () -> a.matMul(b).close());
        gflops = 2.0 * n * n * n / (gemm.median() / 1e3) / 1e9;
        NDArray big = manager.zeros(new Shape(setting.copyFloats()));
        Measure.Result copy = Measure.time(1, repeats, () -> big.duplicate().close());
        // a copy reads and writes every byte; a sum only reads, as a decode step reads weights
        double copyRate = 2.0 * 4 * setting.copyFloats() / (copy.median() / 1e3) / 1e9;
        Measure.Result read = Measure.time(1, repeats, () -> big.sum().close());
        bandwidth = 4.0 * setting.copyFloats() / (read.median() / 1e3) / 1e9;
        // the same bytes read by a one-row product, the kernel a decode step reads weights with
        long columns = 1024;
        NDArray matrix = big.reshape(setting.copyFloats() / columns, columns);
        NDArray row = manager.randomNormal(new Shape(1, columns));
        Measure.Result product =
                Measure.time(1, repeats, () -> Linear.linear(row, matrix).head().close());
        productBandwidth = 4.0 * setting.copyFloats() / (product.median() / 1e3) / 1e9;
        // the fixed cost of one op through DJL at the size of a scan step (B·H rows, b tokens, f)
        TttConfig c = config(LayerType.LINEAR);
        Shape step = new Shape(c.getNumAttentionHeads(), c.getMiniBatchSize(), c.getHeadDim());
        NDArray x = manager.randomNormal(step);
        NDArray y = manager.randomNormal(step);
        int ops = 1000;
        Measure.Result small =
                Measure.time(
                        1,
                        repeats,
                        () ->
                                ScanThreads.run(
                                        x,
                                        () -> {
                                            for (int i = 0; i < ops; i++) {
                                                x.add(y).close();
                                            }
                                            return null;
                                        }));
        double perOp = small.median() * 1e3 / ops;
        emit("%n## Machine probes (this run)%n%n");
        emit("| probe | median | rate |%n|---|---|---|%n");
        emit(
                "| fp32 GEMM %d³ through DJL | %s ms | **%.0f GFLOP/s** |%n",
                n, format(gemm.median()), gflops);
        emit(
                "| copy of %d MiB (`NDArray.duplicate`) | %s ms | %.1f GB/s (read + write) |%n",
                setting.copyFloats() * 4 >> 20, format(copy.median()), copyRate);
        emit(
                "| sum of %d MiB (`NDArray.sum`) | %s ms | **%.1f GB/s** (read) |%n",
                setting.copyFloats() * 4 >> 20, format(read.median()), bandwidth);
        emit(
                "| one-row product over the same %d MiB (`Linear.linear`, (1, %d) × (%d, %d)ᵀ)"
                        + " | %s ms | **%.1f GB/s** (read) |%n",
                setting.copyFloats() * 4 >> 20,
                columns,
                setting.copyFloats() / columns,
                columns,
                format(product.median()),
                productBandwidth);
        emit(
                "| one small op through DJL (`add` of two %s arrays, one thread, as in the scan)"
                        + " | %.1f µs | %,.0f ops/s |%n",
                step, perOp, 1e6 / perOp);
        a.close();
        b.close();
        big.close();
        row.close();
        x.close();
        y.close();
    }

    /** Layer forward (prefill, no autograd) against T, the three layers. */
    private Map<String, double[]> layerForward(NDManager manager) throws Exception {
        emit("%n## Layer forward (prefill, no gradient)%n%n");
        emit(
                "| layer | T | median ms | min–max | tokens/s | GFLOP | %% of GEMM rate | peak MiB |"
                        + " official ms | official / ours |%n");
        emit("|---|---|---|---|---|---|---|---|---|---|%n");
        Map<String, double[]> times = new LinkedHashMap<>();
        for (LayerType type : LayerType.values()) {
            TttConfig config = config(type);
            double[] medians = new double[setting.lengths().length];
            try (NDManager m = manager.newSubManager()) {
                SequenceLayer<?> layer = layer(config, m, setting.lengths()[0]);
                ParameterStore ps = new ParameterStore(m, false);
                int[] lengths = setting.lengths();
                Measure.Body[] bodies = new Measure.Body[lengths.length];
                double[] peaks = new double[lengths.length];
                for (int i = 0; i < lengths.length; i++) {
                    NDArray x = m.randomNormal(new Shape(1, lengths[i], config.getHiddenSize()));
                    bodies[i] = forward(layer, ps, x);
                    bodies[i].run(); // the warm-up run of each length alone
                    peaks[i] = peakMiB("forward", type, Integer.toString(lengths[i]));
                }
                // then the lengths in turn, so that time(8192) / time(4096) compares like with
                // like on this machine, whose speed drifts within a run
                Measure.Result[] results = Measure.interleaved(0, repeats, bodies);
                for (int i = 0; i < lengths.length; i++) {
                    int t = lengths[i];
                    Measure.Result r = results[i];
                    medians[i] = r.median();
                    double flops = layer.forwardFlops(t);
                    double official = this.official.forward(type.officialName(), t);
                    emit(
                            "| %s | %d | %s | %s | %,.0f | %.2f | %.0f %% | %.0f | %s | %s |%n",
                            name(type),
                            t,
                            format(r.median()),
                            r.range(),
                            t / (r.median() / 1e3),
                            flops / 1e9,
                            100 * flops / 1e9 / gflops / (r.median() / 1e3),
                            peaks[i],
                            Double.isNaN(official) ? "" : format(official),
                            Double.isNaN(official) ? "" : ratio(official / r.median()));
                }
            }
            times.put(name(type), medians);
        }
        scaling(times);
        return times;
    }

    /** time(2T)/time(T) at the two longest lengths, and where TTT-Linear overtakes attention. */
    private void scaling(Map<String, double[]> times) {
        int[] lengths = setting.lengths();
        int last = lengths.length - 1;
        emit("%n");
        for (Map.Entry<String, double[]> e : times.entrySet()) {
            double[] t = e.getValue();
            emit(
                    "- %s: time(%d) / time(%d) = %.2f%n",
                    e.getKey(), lengths[last], lengths[last - 1], t[last] / t[last - 1]);
        }
        double[] linear = times.get(name(LayerType.LINEAR));
        double[] attention = times.get(name(LayerType.ATTENTION));
        String crossover = "TTT-Linear is slower than attention at every measured length";
        for (int i = 0; i < lengths.length; i++) {
            if (linear[i] < attention[i]) {
                crossover =
                        "TTT-Linear is faster than attention from T = "
                                + lengths[i]
                                + (i == 0
                                        ? " (the shortest measured)"
                                        : " on (slower at " + lengths[i - 1] + ")");
                break;
            }
        }
        emit("- crossover: %s%n", crossover);
    }

    /** Forward + backward of a layer at the training length, dual against primal form. */
    private void forwardBackward(NDManager manager) throws Exception {
        int t = setting.trainLength();
        emit("%n## Layer forward + backward, T = %d%n", t);
        for (LayerType type : new LayerType[] {LayerType.LINEAR, LayerType.MLP}) {
            emit(
                    "%n| layer | form | median ms | min–max | peak MiB | official ms | official /"
                            + " ours |%n");
            emit("|---|---|---|---|---|---|---|%n");
            TttConfig config = config(type);
            double[] byForm = new double[2];
            try (NDManager m = manager.newSubManager()) {
                SequenceLayer<?> layer = layer(config, m, t);
                ParameterStore ps = new ParameterStore(m, false);
                NDArray x = m.randomNormal(new Shape(1, t, config.getHiddenSize()));
                // dual and primal in turn, so that the machine's slow spells hit both alike
                InnerForm[] forms = InnerForm.values();
                Measure.Body[] bodies = new Measure.Body[forms.length];
                for (int i = 0; i < forms.length; i++) {
                    bodies[i] = forwardBackward(layer, ps, x, forms[i]);
                }
                // first one run of each alone: the warm-up; the peak memory of each form
                double[] peaks = new double[forms.length];
                for (int i = 0; i < forms.length; i++) {
                    bodies[i].run();
                    peaks[i] = peakMiB("train", type, forms[i].name());
                }
                Measure.Result[] results = Measure.interleaved(0, Math.max(1, repeats - 2), bodies);
                for (InnerForm form : forms) {
                    Measure.Result r = results[form.ordinal()];
                    double peak = peaks[form.ordinal()];
                    byForm[form.ordinal()] = r.median();
                    double official =
                            form == InnerForm.DUAL
                                    ? this.official.forwardBackward(type.officialName())
                                    : Double.NaN;
                    emit(
                            "| %s | %s | %s | %s | %.0f | %s | %s |%n",
                            name(type),
                            form.name().toLowerCase(Locale.ROOT),
                            format(r.median()),
                            r.range(),
                            peak,
                            Double.isNaN(official) ? "" : format(official),
                            Double.isNaN(official) ? "" : ratio(official / r.median()));
                }
            }
            emit(
                    "%n%s: primal / dual = %.2f×%n",
                    name(type),
                    byForm[InnerForm.PRIMAL.ordinal()] / byForm[InnerForm.DUAL.ordinal()]);
        }
    }

    /** One inference forward of a layer or model, its intermediates freed. */
    private static Measure.Body forward(Block block, ParameterStore ps, NDArray input) {
        return () -> {
            try (NDScope scope = new NDScope()) {
                block.forward(ps, new NDList(input), false);
                scope.suppressNotUsedWarning();
            }
        };
    }

    /** The peak memory of one case, measured in a fresh JVM ({@link PeakMemory}). */
    private double peakMiB(String kind, LayerType type, String argument) throws Exception {
        return PeakMemory.inFreshJvm(kind + ":" + type.name() + ":" + argument, quick, threads);
    }

    /**
     * The child side of {@link PeakMemory}: builds the case {@code --memory-case} names ({@code
     * forward:LAYER:T}, {@code train:LAYER:FORM} or {@code model:LAYER:T}), runs it once on 16
     * tokens to warm its code paths up, and prints the resident set's growth during one run.
     */
    private int measureMemoryCase() throws Exception {
        String[] spec = memoryCase.split(":");
        if (spec.length != 3) {
            throw new IllegalArgumentException(
                    "--memory-case: expected KIND:LAYER:ARG, got '" + memoryCase + "'");
        }
        TttConfig config = config(parse(LayerType.class, spec[1]));
        long width = config.getHiddenSize();
        try (NDManager m = NDManager.newBaseManager(device.get())) {
            ParameterStore ps = new ParameterStore(m, false);
            Measure.Body warmUp;
            Measure.Body body;
            switch (spec[0]) {
                case "forward" -> {
                    int t = OfficialFigures.length(spec[2], "--memory-case");
                    SequenceLayer<?> layer = layer(config, m, t);
                    warmUp = forward(layer, ps, m.randomNormal(new Shape(1, 16, width)));
                    body = forward(layer, ps, m.randomNormal(new Shape(1, t, width)));
                }
                case "train" -> {
                    InnerForm form = parse(InnerForm.class, spec[2]);
                    int t = setting.trainLength();
                    SequenceLayer<?> layer = layer(config, m, t);
                    NDArray small = m.randomNormal(new Shape(1, 16, width));
                    warmUp = forwardBackward(layer, ps, small, form);
                    body = forwardBackward(layer, ps, m.randomNormal(new Shape(1, t, width)), form);
                }
                case "model" -> {
                    CausalLm lm = model(config, m);
                    warmUp = forward(lm, ps, tokens(m, 1, 16));
                    body =
                            forward(
                                    lm,
                                    ps,
                                    tokens(m, 1, OfficialFigures.length(spec[2], "--memory-case")));
                }
                default ->
                        throw new IllegalArgumentException(
                                "--memory-case: unknown kind '"
                                        + spec[0]
                                        + "' (forward, train or model)");
            }
            warmUp.run();
            double peak = Measure.time(0, 1, body).peakMiB();
            System.out.printf(Locale.ROOT, "%s %.1f%n", PeakMemory.PREFIX, peak);
        }
        return 0;
    }

    private static <E extends Enum<E>> E parse(Class<E> type, String name) {
        try {
            return Enum.valueOf(type, name);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(
                    "--memory-case: expected one of "
                            + Arrays.toString(type.getEnumConstants())
                            + ", got '"
                            + name
                            + "'");
        }
    }

    /** One forward + backward of a layer in a form, the loss being the output's mean. */
    private static Measure.Body forwardBackward(
            Block layer, ParameterStore ps, NDArray x, InnerForm form) {
        PairList<String, Object> params = new PairList<>();
        params.add(TttLayer.FORM_PARAM, form.name());
        return () -> {
            try (GradientCollector gc = Engine.getInstance().newGradientCollector();
                    NDScope scope = new NDScope()) {
                NDArray y = layer.forward(ps, new NDList(x), true, params).head();
                ScanThreads.backward(gc, y.mean());
                scope.suppressNotUsedWarning();
            }
        };
    }

    /** The whole model's forward (logits for every token). */
    private void modelForward(NDManager manager) throws Exception {
        TttConfig shape = config(LayerType.LINEAR);
        emit(
                "%n## Whole model forward (%s: %d blocks, vocabulary %d; logits for every token)%n%n",
                quick ? "tiny smoke-test model" : "125m config",
                shape.getNumHiddenLayers(),
                shape.getVocabSize());
        emit(
                "| model | T | median ms | min–max | tokens/s | peak MiB |%n|---|---|---|---|---|---|%n");
        for (LayerType type : LayerType.values()) {
            try (NDManager m = manager.newSubManager()) {
                CausalLm lm = model(config(type), m);
                ParameterStore ps = new ParameterStore(m, false);
                for (int t : setting.modelLengths()) {
                    NDArray ids = tokens(m, 1, t);
                    Measure.Result r =
                            Measure.time(1, Math.max(1, repeats - 2), forward(lm, ps, ids));
                    double peak = peakMiB("model", type, Integer.toString(t));
                    emit(
                            "| %s | %d | %s | %s | %,.0f | %.0f |%n",
                            name(type),
                            t,
                            format(r.median()),
                            r.range(),
                            t / (r.median() / 1e3),
                            peak);
                }
            }
        }
    }

    /** Per-token decode latency of the whole model at several positions, and batch decode. */
    private Map<String, double[]> decode(NDManager manager) throws Exception {
        emit("%n## Whole model decode, one token per call%n%n");
        int[] positions = setting.decodePositions();
        emit(
                "| model | position | median ms/token | min–max | peak MiB during decode | state"
                        + " MiB | official ms |%n|---|---|---|---|---|---|---|%n");
        Map<String, double[]> latency = new LinkedHashMap<>();
        double weightBytes = 0;
        Measure.Result products = null;
        double productBytes = 0;
        for (LayerType type : LayerType.values()) {
            double[] perPosition = new double[positions.length];
            try (NDManager m = manager.newSubManager()) {
                CausalLm lm = model(config(type), m);
                weightBytes = parameterCount(lm) * 4.0;
                if (products == null) {
                    List<NDArray> weights = multipliedWeights(lm);
                    productBytes = weights.stream().mapToDouble(w -> w.size() * 4.0).sum();
                    products = productsAlone(m, weights);
                }
                ParameterStore ps = new ParameterStore(m, false);
                // one state per position, then one token at each position in turn: a slow spell
                // of this shared machine then hits every position alike
                LmState[] states = new LmState[positions.length];
                long position = 0;
                for (int i = 0; i < positions.length; i++) {
                    states[i] =
                            prefillTo(
                                    lm,
                                    ps,
                                    m,
                                    i == 0 ? null : states[i - 1],
                                    position,
                                    positions[i]);
                    position = positions[i];
                }
                Measure.Body[] bodies = new Measure.Body[positions.length];
                for (int i = 0; i < positions.length; i++) {
                    int at = i;
                    bodies[i] = () -> states[at] = step(lm, ps, m, states[at], 1);
                }
                Measure.Result[] results =
                        Measure.interleaved(DECODE_WARMUP, setting.decodeSteps(), bodies);
                for (int i = 0; i < positions.length; i++) {
                    Measure.Result r = results[i];
                    perPosition[i] = r.median();
                    double official =
                            i == 0 ? this.official.decode(type.officialName()) : Double.NaN;
                    emit(
                            "| %s | %,d | %s | %s | %.0f | %.2f | %s |%n",
                            name(type),
                            positions[i],
                            format(r.median()),
                            r.range(),
                            r.peakMiB(),
                            stateBytes(states[i]) / 1048576.0,
                            Double.isNaN(official) ? "" : format(official));
                }
                for (LmState state : states) {
                    state.close();
                }
            }
            latency.put(name(type), perPosition);
        }
        double floor = weightBytes / (bandwidth * 1e9) * 1e3;
        emit(
                "%nMemory-bandwidth floor of one decode step: %.0f MB of weights / %.1f GB/s read ="
                        + " %.1f ms (every weight is read once per token).%n",
                weightBytes / 1e6, bandwidth, floor);
        emit(
                "%nMatrix-vector floor: the one-row products alone, each whole as libtorch runs"
                        + " it (every weight a decode step multiplies a row by: %.0f MB,"
                        + " `Linear.linear`, libtorch's threads): %s ms (%s), %.1f GB/s. The official"
                        + " code runs the same products through the same kind of kernel; ours"
                        + " computes the head's in row blocks on two threads"
                        + " (`ScanThreads.product`), below its share here.%n",
                productBytes / 1e6,
                format(products.median()),
                products.range(),
                productBytes / (products.median() / 1e3) / 1e9);
        for (Map.Entry<String, double[]> e : latency.entrySet()) {
            double[] v = e.getValue();
            emit(
                    "- %s: position %,d vs %,d: %+.1f %%%n",
                    e.getKey(),
                    positions[positions.length - 1],
                    positions[0],
                    100 * (v[v.length - 1] / v[0] - 1));
        }
        batchDecode(manager);
        return latency;
    }

    /**
     * Decode at batch 1 and at the batch of the batch table in each precision, side by side: one
     * model per layer type, and rounds in which every precision decodes {@code --repeats} tokens at
     * each batch size in turn (after two untimed steps each, since switching makes or drops the
     * float16 copies), so that the machine's slow and fast spells hit all alike. Each figure is the
     * median of its tokens over all rounds, beside the best, the bytes of weights its step reads
     * (float16 copies where it multiplies by them), that many bytes over the faster read probe (the
     * floor) and the best step as a multiple of it, and the speed-up against float32 of the best
     * steps (what the alternating harness compares on a shared machine) and of the medians.
     */
    private void precisionDecode(NDManager manager) throws Exception {
        emit("%n## Decode in each precision, side by side%n%n");
        emit("load before: %s%n%n", Report.load());
        int[] batches = {1, setting.decodeBatch()};
        emit(
                "| model | batch | dtype | median ms/step | best | tokens/s | weights read MB |"
                        + " bandwidth floor ms | × floor (best) | speed-up vs float32: best, median |%n"
                        + "|---|---|---|---|---|---|---|---|---|---|%n");
        for (LayerType type : new LayerType[] {LayerType.LINEAR, LayerType.MLP}) {
            try (NDManager m = manager.newSubManager()) {
                CausalLm lm = model(config(type), m);
                ParameterStore ps = new ParameterStore(m, false);
                LmState[] states = new LmState[batches.length];
                for (int b = 0; b < batches.length; b++) {
                    states[b] = prefill(lm, ps, m, null, tokens(m, batches[b], 16));
                }
                int cases = precisions.size() * batches.length;
                double[][] millis = new double[cases][rounds * repeats];
                for (int round = 0; round < rounds; round++) {
                    for (int p = 0; p < precisions.size(); p++) {
                        lm.setPrecision(precisions.get(p));
                        for (int b = 0; b < batches.length; b++) {
                            int rows = batches[b];
                            int at = b;
                            Measure.Result r =
                                    Measure.time(
                                            2,
                                            repeats,
                                            () -> states[at] = step(lm, ps, m, states[at], rows));
                            System.arraycopy(
                                    r.millis(),
                                    0,
                                    millis[p * batches.length + b],
                                    round * repeats,
                                    repeats);
                        }
                    }
                }
                lm.setPrecision(Precision.FLOAT32);
                for (LmState state : states) {
                    state.close();
                }
                for (int b = 0; b < batches.length; b++) {
                    double base = Double.NaN;
                    double baseBest = Double.NaN;
                    for (int p = 0; p < precisions.size(); p++) {
                        Precision precision = precisions.get(p);
                        Measure.Result r =
                                new Measure.Result(millis[p * batches.length + b], Double.NaN);
                        double bytes = weightsRead(lm, precision, batches[b]);
                        double floor = bytes / (readRate() * 1e9) * 1e3;
                        double best = Arrays.stream(r.millis()).min().orElse(Double.NaN);
                        if (precision == Precision.FLOAT32) {
                            base = r.median();
                            baseBest = best;
                        }
                        emit(
                                "| %s | %d | %s | %s | %s | %,.0f | %.0f | %.1f | %.1f× | %s |%n",
                                name(type),
                                batches[b],
                                precision.officialName(),
                                format(r.median()),
                                format(best),
                                batches[b] / (r.median() / 1e3),
                                bytes / 1e6,
                                floor,
                                best / floor,
                                Double.isNaN(base)
                                        ? ""
                                        : ratio(baseBest / best) + ", " + ratio(base / r.median()));
                    }
                }
            }
        }
        prefillInBothPrecisions(manager);
        emit("%nload after: %s%n", Report.load());
        emit(
                "%nA step reads every weight it multiplies a row by once; in float16 the copies"
                        + " replace their float32 originals in one-row products only (on a CPU a"
                        + " batch of more than one row keeps the float32 weights:"
                        + " docs/precision.md). Floor = those bytes / %.1f GB/s, the faster of"
                        + " the two read probes above.%n",
                readRate());
    }

    /**
     * Layer forward (prefill, no gradient) of the TTT layers with the same weights in each
     * precision, in turn: two layers built from the same seed, one per precision, so that no switch
     * happens between the timed calls. On a CPU a float16 layer multiplies a multi-row input by its
     * float32 weights, so the two should take the same time.
     */
    private void prefillInBothPrecisions(NDManager manager) throws Exception {
        int[] lengths = {setting.lengths()[0], setting.trainLength()};
        emit(
                "%n| layer forward | T | dtype | median ms | min–max | vs float32 |%n"
                        + "|---|---|---|---|---|---|%n");
        for (LayerType type : new LayerType[] {LayerType.LINEAR, LayerType.MLP}) {
            TttConfig config = config(type);
            try (NDManager m = manager.newSubManager()) {
                ParameterStore ps = new ParameterStore(m, false);
                List<TttLayer> layers = new ArrayList<>();
                for (Precision precision : precisions) {
                    TttLayer layer = (TttLayer) layer(config, m, lengths[0]);
                    layer.setPrecision(precision);
                    layers.add(layer);
                }
                for (int t : lengths) {
                    NDArray x = m.randomNormal(new Shape(1, t, config.getHiddenSize()));
                    Measure.Body[] bodies = new Measure.Body[layers.size()];
                    for (int i = 0; i < bodies.length; i++) {
                        bodies[i] = forward(layers.get(i), ps, x);
                    }
                    Measure.Result[] results = Measure.interleaved(1, repeats, bodies);
                    for (int i = 0; i < bodies.length; i++) {
                        emit(
                                "| %s | %,d | %s | %s | %s | %s |%n",
                                name(type),
                                t,
                                precisions.get(i).officialName(),
                                format(results[i].median()),
                                results[i].range(),
                                ratio(results[0].median() / results[i].median()));
                    }
                    x.close();
                }
            }
        }
    }

    /** The faster of the two read probes (a sum, a one-row product), GB/s. */
    private double readRate() {
        return Math.max(bandwidth, productBandwidth);
    }

    /**
     * The bytes of weights one decode step of {@code rows} rows reads in a precision: every weight
     * it multiplies a row by, two bytes each where that product goes through a float16 copy.
     */
    private static double weightsRead(CausalLm lm, Precision precision, int rows) {
        boolean half = precision == Precision.FLOAT16 && rows == 1;
        double bytes = 0;
        for (NDArray w : multipliedWeights(lm)) {
            // the float16 copies are the 2-D weights; the learning-rate gates (H, 1, C) are not
            boolean copied = half && w.getShape().dimension() == 2 && !isGate(lm, w);
            bytes += w.size() * (copied ? 2.0 : 4.0);
        }
        return bytes;
    }

    /** Whether a view from {@link #multipliedWeights} is a learning-rate gate {@code (H, C)}. */
    private static boolean isGate(CausalLm lm, NDArray w) {
        return w.getShape().get(0) == lm.getConfig().getNumAttentionHeads();
    }

    /**
     * The weights a decode step multiplies a row of width C or I by, as {@code (out, in)} views:
     * the projections, the feed-forward, the learning-rate gates {@code (H, 1, C)}, and the head
     * (the embedding only where it is the head, tied), for the benchmark's configs (H > 1).
     */
    private static List<NDArray> multipliedWeights(CausalLm lm) {
        TttConfig config = lm.getConfig();
        Set<Long> rowWidths =
                Set.of((long) config.getHiddenSize(), (long) config.getIntermediateSize());
        List<NDArray> weights = new ArrayList<>();
        for (Pair<String, Parameter> p : lm.getParameters()) {
            NDArray w = p.getValue().getArray();
            Shape s = w.getShape();
            boolean gathered = p.getKey().equals("embed_tokens") && !config.isTieWordEmbeddings();
            // a row's width last and more than one row; norms' (C) vectors, per-head (H, f)
            // arrays, inner weights (H, f, f) and convolutions (C, 1, k) end in other widths
            if (rowWidths.contains(s.getLastDimension())
                    && s.size() > s.getLastDimension()
                    && !gathered) {
                weights.add(w.reshape(-1, s.getLastDimension()));
            }
        }
        return weights;
    }

    /** One one-row product per weight, in turn, as libtorch runs each by itself. */
    private Measure.Result productsAlone(NDManager m, List<NDArray> weights) throws Exception {
        Map<Long, NDArray> rows = new HashMap<>();
        for (NDArray w : weights) {
            rows.computeIfAbsent(w.getShape().get(1), in -> m.randomNormal(new Shape(1, 1, in)));
        }
        Measure.Result r =
                Measure.time(
                        DECODE_WARMUP,
                        setting.decodeSteps(),
                        () -> {
                            for (NDArray w : weights) {
                                Linear.linear(rows.get(w.getShape().get(1)), w).close();
                            }
                        });
        rows.values().forEach(NDArray::close);
        return r;
    }

    /** Tokens per second when several sequences decode together. */
    private void batchDecode(NDManager manager) throws Exception {
        int batch = setting.decodeBatch();
        emit(
                "%n| model | batch | median ms/step | tokens/s | tokens/s at batch 1 |%n"
                        + "|---|---|---|---|---|%n");
        for (LayerType type : new LayerType[] {LayerType.LINEAR, LayerType.MLP}) {
            try (NDManager m = manager.newSubManager()) {
                CausalLm lm = model(config(type), m);
                ParameterStore ps = new ParameterStore(m, false);
                double[] perStep = new double[2];
                int[] batches = {1, batch};
                for (int i = 0; i < 2; i++) {
                    LmState state = prefill(lm, ps, m, null, tokens(m, batches[i], 16));
                    LmState[] current = {state};
                    int rows = batches[i];
                    Measure.Result r =
                            Measure.time(
                                    DECODE_WARMUP,
                                    setting.decodeSteps(),
                                    () -> current[0] = step(lm, ps, m, current[0], rows));
                    current[0].close();
                    perStep[i] = r.median();
                }
                emit(
                        "| %s | %d | %s | %,.0f | %,.0f |%n",
                        name(type),
                        batch,
                        format(perStep[1]),
                        batch / (perStep[1] / 1e3),
                        1 / (perStep[0] / 1e3));
            }
        }
    }

    /**
     * Continues {@code start} (left open: the caller keeps it) from position {@code from} to {@code
     * to} by chunks of 1024 random tokens.
     */
    private LmState prefillTo(
            CausalLm lm, ParameterStore ps, NDManager m, LmState start, long from, long to) {
        int chunk = 1024;
        LmState state = start;
        for (long p = from; p < to; p += chunk) {
            int length = (int) Math.min(chunk, to - p);
            try (NDManager scratch = m.newSubManager()) {
                LmState next = advance(lm, ps, m, state, tokens(scratch, 1, length));
                if (state != start) {
                    state.close();
                }
                state = next;
            }
        }
        return state;
    }

    /** Runs a chunk and keeps only the new state, owned by {@code m}. */
    private static LmState prefill(
            CausalLm lm, ParameterStore ps, NDManager m, LmState state, NDArray ids) {
        LmState next = advance(lm, ps, m, state, ids);
        if (state != null) {
            state.close();
        }
        return next;
    }

    /** Runs a chunk and returns the new state, owned by {@code m}; the old one stays open. */
    private static LmState advance(
            CausalLm lm, ParameterStore ps, NDManager m, LmState state, NDArray ids) {
        try (NDManager scratch = m.newSubManager()) {
            ids.attach(scratch);
            CausalLm.Output out = lm.prefill(ps, ids, state, false);
            out.state().attach(m);
            return out.state();
        }
    }

    private static LmState step(
            CausalLm lm, ParameterStore ps, NDManager m, LmState state, int rows) {
        try (NDManager scratch = m.newSubManager()) {
            return prefill(lm, ps, m, state, tokens(scratch, rows, 1));
        }
    }

    private SequenceLayer<?> layer(TttConfig config, NDManager m, int length) {
        SequenceLayer<?> layer = SequenceLayers.fromConfig(config, true);
        Engine.getInstance().setRandomSeed(1);
        layer.initialize(m, DataType.FLOAT32, new Shape(1, length, config.getHiddenSize()));
        return layer;
    }

    private static CausalLm model(TttConfig config, NDManager m) {
        Engine.getInstance().setRandomSeed(1);
        CausalLm lm = new CausalLm(config);
        lm.initialize(m, DataType.FLOAT32, new Shape(1, 16));
        return lm;
    }

    private static NDArray tokens(NDManager m, int rows, int length) {
        return m.randomInteger(0, 256, new Shape(rows, length), DataType.INT64);
    }

    private static long parameterCount(CausalLm lm) {
        return lm.getParameters().values().stream().mapToLong(p -> p.getArray().size()).sum();
    }

    private static double stateBytes(LmState state) {
        double bytes = 0;
        for (NDArray a : state.arrays()) {
            bytes += a.size() * a.getDataType().getNumOfBytes();
        }
        return bytes;
    }

    private static String name(LayerType type) {
        return type.displayName();
    }

    private static String ratio(double r) {
        return String.format(Locale.ROOT, "%.2f×", r);
    }

    /** Milliseconds with a sensible number of digits. */
    static String format(double ms) {
        return String.format(Locale.ROOT, ms < 10 ? "%.2f" : ms < 100 ? "%.1f" : "%.0f", ms);
    }

    private void emit(String format, Object... args) {
        String text = String.format(Locale.ROOT, format, args);
        System.out.print(text);
        System.out.flush();
        report.append(text);
    }

    private void writeReport(Map<String, double[]> prefill, Map<String, double[]> decode)
            throws IOException {
        Path file = Path.of(out);
        Path images = file.toAbsolutePath().getParent().resolve("img");
        double[] lengths = toDoubles(setting.lengths());
        LineChart throughput =
                new LineChart(
                        String.format(
                                Locale.ROOT,
                                "Layer forward throughput (C=%d, %d heads, B=1, fp32)",
                                config(LayerType.LINEAR).getHiddenSize(),
                                config(LayerType.LINEAR).getNumAttentionHeads()),
                        "context length T",
                        "tokens / s",
                        true);
        for (Map.Entry<String, double[]> e : prefill.entrySet()) {
            double[] tokensPerSecond = new double[lengths.length];
            for (int i = 0; i < lengths.length; i++) {
                tokensPerSecond[i] = lengths[i] / (e.getValue()[i] / 1e3);
            }
            throughput.add(e.getKey(), lengths, tokensPerSecond);
        }
        throughput.write(images.resolve("bench-prefill.png"));
        LineChart latency =
                new LineChart(
                        quick
                                ? "Decode latency per token (tiny model, B=1)"
                                : "Decode latency per token (125m model, B=1)",
                        "position",
                        "ms / token",
                        false);
        double[] positions = toDoubles(setting.decodePositions());
        for (Map.Entry<String, double[]> e : decode.entrySet()) {
            latency.add(e.getKey(), positions, e.getValue());
        }
        latency.write(images.resolve("bench-decode.png"));

        String md =
                "```\n./bin/ttt bench speed"
                        + (quick ? " --quick" : "")
                        + (officialFile == null ? "" : " --official FILE")
                        + "\n```\n\n"
                        + report
                        + "\n![layer forward throughput](img/bench-prefill.png)\n\n"
                        + "![decode latency](img/bench-decode.png)\n";
        Report.write(file, GENERATED, "Benchmarks", md);
        System.out.println("\nwrote " + file + " and " + images.resolve("bench-*.png"));
    }

    /** The marker after which the report is regenerated; the text before it is hand-written. */
    static final String GENERATED = "<!-- generated by ttt bench speed: everything below -->";

    private static double[] toDoubles(int[] values) {
        double[] d = new double[values.length];
        for (int i = 0; i < values.length; i++) {
            d[i] = values[i];
        }
        return d;
    }
}
