package ai.djl.ttt.examples;

import ai.djl.Device;
import ai.djl.MalformedModelException;
import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.engine.EngineException;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.ParameterStore;
import ai.djl.training.Trainer;
import ai.djl.training.dataset.Batch;
import ai.djl.training.tracker.Tracker;
import ai.djl.translate.StackBatchifier;
import ai.djl.ttt.config.LayerType;
import ai.djl.ttt.config.TttConfig;
import ai.djl.ttt.io.ParityCheck;
import ai.djl.ttt.io.ReferenceCase;
import ai.djl.ttt.lm.CausalLm;
import ai.djl.ttt.runtime.NoGrad;
import ai.djl.ttt.training.LmLoss;
import ai.djl.ttt.training.MaskedAdamW;
import ai.djl.ttt.training.TrainingStep;
import ai.djl.util.Pair;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.stream.Stream;

/**
 * The GPU check ({@code tools/gpu-check.sh}): on one device, the parity cases against the official
 * code's tensors, prefill + token-by-token decode against one forward pass, the device's forward
 * pass and one training step ({@link TrainingStep} with {@link MaskedAdamW}) against the CPU's; a
 * PASS/FAIL table with the largest relative error of each check.
 *
 * <p>Tolerances: the CPU's (1e-5, as {@code ttt parity}) on the CPU; 1e-4 on a GPU, where cuBLAS
 * and cuDNN sum in other orders (the script turns TF32 off with {@code NVIDIA_TF32_OVERRIDE=0}:
 * TF32's 10-bit mantissa would cost ~1e-3). The training step's parameter updates get ten times the
 * tolerance: Adam's first step divides the gradient by its own magnitude, which magnifies the
 * rounding of gradients near zero.
 *
 * <p>Run on the CPU, the "device vs cpu" rows compare the CPU with a copy of itself: they are
 * labelled "cpu vs cpu (copy)" and only show that the copy and the comparison work. The checks that
 * mean something on any device stand beside them: the parity cases, prefill + decode against the
 * forward pass, and whether the training step lowers the loss of the batch it trained on.
 *
 * <p>Usage: {@code GpuCheck [--device cpu|gpu|gpu:N] [--tolerance X] [--cases DIR]}; exit status 0
 * when every check passes, 1 otherwise, 2 for bad arguments.
 */
public final class GpuCheck {

    private final Device device;
    private final double tolerance;
    private final List<String[]> rows = new ArrayList<>();
    private boolean failed;

    private GpuCheck(Device device, double tolerance) {
        this.device = device;
        this.tolerance = tolerance;
    }

    /**
     * Runs the checks and exits with their status.
     *
     * @param args {@code --device}, {@code --tolerance}, {@code --cases}
     */
    public static void main(String[] args) {
        System.exit(run(args));
    }

    /**
     * Runs the checks (for tests: no exit).
     *
     * @param args {@code --device}, {@code --tolerance}, {@code --cases}
     * @return 0 all passed, 1 a check failed, 2 bad arguments or no device
     */
    public static int run(String... args) {
        DeviceOptions options = new DeviceOptions();
        Double tolerance = null;
        Path cases = Path.of("ttt-djl-blocks/src/test/resources/ttt-reference");
        try {
            for (int i = 0; i < args.length; i++) {
                String value = i + 1 < args.length ? args[i + 1] : null;
                switch (args[i]) {
                    case "--device" -> options.device = value;
                    case "--tolerance" -> tolerance = Double.parseDouble(String.valueOf(value));
                    case "--cases" -> cases = Path.of(String.valueOf(value));
                    default ->
                            throw new IllegalArgumentException(
                                    "unknown argument '"
                                            + args[i]
                                            + "'; expected --device, --tolerance, --cases");
                }
                i++;
            }
            Device device = options.get();
            double tol = tolerance != null ? tolerance : device.isGpu() ? 1e-4 : 1e-5;
            GpuCheck check = new GpuCheck(device, tol);
            check.header();
            check.parity(cases);
            for (LayerType type : new LayerType[] {LayerType.LINEAR, LayerType.MLP}) {
                check.model(type);
            }
            check.print();
            return check.failed ? 1 : 0;
        } catch (IllegalArgumentException
                | IOException
                | MalformedModelException
                | EngineException e) {
            System.err.println("error: " + e.getMessage());
            return 2;
        }
    }

    private void header() {
        Engine engine = Engine.getEngine("PyTorch");
        System.out.printf(
                Locale.ROOT,
                "device %s, libtorch %s, %d GPU(s), NVIDIA_TF32_OVERRIDE=%s, tolerance %.0e%n%n",
                device,
                engine.getVersion(),
                engine.getGpuCount(),
                System.getenv().getOrDefault("NVIDIA_TF32_OVERRIDE", "(unset)"),
                tolerance);
    }

    private void row(String check, String worst, double error, double limit) {
        boolean ok = error <= limit && Double.isFinite(error);
        failed |= !ok;
        rows.add(
                new String[] {
                    check,
                    worst,
                    String.format(Locale.ROOT, "%.3e", error),
                    String.format(Locale.ROOT, "%.0e", limit),
                    ok ? "PASS" : "FAIL"
                });
    }

    private void print() {
        String format = "%-37s %-22s %11s %9s  %s%n";
        System.out.printf(
                Locale.ROOT, format, "check", "largest error in", "rel. error", "limit", "");
        for (String[] r : rows) {
            System.out.printf(Locale.ROOT, format, (Object[]) r);
        }
        System.out.println();
        System.out.println(failed ? "FAIL" : "PASS");
    }

    /** Every reference case, computed on the device. */
    private void parity(Path cases) throws IOException, MalformedModelException {
        if (!Files.isDirectory(cases)) {
            throw new IllegalArgumentException("--cases: " + cases + " is not a directory");
        }
        List<Path> dirs;
        try (Stream<Path> list = Files.list(cases)) {
            dirs = list.filter(Files::isDirectory).sorted().toList();
        }
        try (NDManager manager = NDManager.newBaseManager(device)) {
            for (Path dir : dirs) {
                try (ReferenceCase c = ReferenceCase.load(manager, dir)) {
                    double worst = -1;
                    String where = "";
                    for (ParityCheck.Result r : ParityCheck.run(manager, c)) {
                        if (!(r.relativeError() <= worst)) {
                            worst = r.relativeError();
                            where = r.output();
                        }
                    }
                    row("parity " + dir.getFileName(), where, worst, tolerance);
                }
            }
        }
    }

    /** Forward, prefill + decode and one training step of a small LM, device vs CPU. */
    private void model(LayerType type) throws IOException {
        TttConfig config =
                TttConfig.builder()
                        .setVocabSize(64)
                        .setHiddenSize(64)
                        .setNumAttentionHeads(4)
                        .setIntermediateSize(128)
                        .setNumHiddenLayers(2)
                        .setLayerType(type)
                        .mambaBackbone()
                        .build();
        String name = type.officialName();
        String versus = device.isGpu() ? "device vs cpu" : "cpu vs cpu (copy)";
        try (Model cpu = Model.newInstance("cpu", Device.cpu());
                Model dev = Model.newInstance("dev", device)) {
            Engine.getInstance().setRandomSeed(7);
            cpu.setBlock(new CausalLm(config));
            cpu.getBlock().initialize(cpu.getNDManager(), DataType.FLOAT32, new Shape(1, 16));
            dev.setBlock(copy(cpu, dev, config));
            long[] tokens = tokens(4 * 48, 64, 11);
            try (NDManager cm = cpu.getNDManager().newSubManager();
                    NDManager dm = dev.getNDManager().newSubManager();
                    NoGrad off = NoGrad.open(dm)) {
                NDArray cpuIds = cm.create(tokens, new Shape(4, 48));
                NDArray ids = dm.create(tokens, new Shape(4, 48));
                CausalLm lm = (CausalLm) dev.getBlock();
                ParameterStore ps = new ParameterStore(dm, false);
                NDArray full = lm.forward(ps, new NDList(ids), false).head();
                NDArray reference =
                        cpu.getBlock()
                                .forward(new ParameterStore(cm, false), new NDList(cpuIds), false)
                                .head();
                row(
                        "forward " + name + ": " + versus,
                        "logits",
                        ParityCheck.relativeError(full.toDevice(Device.cpu(), true), reference),
                        tolerance);
                CausalLm.Output out = lm.prefill(ps, ids.get(":, 0:16"), null, false);
                NDList pieces = new NDList(out.logits());
                for (int t = 16; t < 48; t++) {
                    out = lm.prefill(ps, ids.get(":, {}:{}", t, t + 1), out.state(), false);
                    pieces.add(out.logits());
                }
                row(
                        "prefill 16 + decode 32 " + name,
                        "logits vs forward",
                        ParityCheck.relativeError(NDArrays.concat(pieces, 1), full),
                        tolerance);
            }
            double[] losses = new double[2];
            row(
                    "train step " + name + ": " + versus,
                    "parameter updates",
                    trainStepError(cpu, dev, tokens, losses),
                    10 * tolerance);
            // AdamW's first step moves every weight by about the learning rate against its
            // gradient: the batch's own loss must fall, on any device
            row(
                    "train step " + name + ": loss falls",
                    String.format(Locale.ROOT, "loss %.4f -> %.4f", losses[0], losses[1]),
                    losses[1] / losses[0],
                    1 - 1e-4);
        }
    }

    /** The same model on the device: the CPU model's parameters, copied. */
    private CausalLm copy(Model cpu, Model dev, TttConfig config) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        cpu.getBlock().saveParameters(new DataOutputStream(bytes));
        CausalLm lm = new CausalLm(config);
        lm.initialize(dev.getNDManager(), DataType.FLOAT32, new Shape(1, 16));
        try {
            lm.loadParameters(
                    dev.getNDManager(),
                    new DataInputStream(new ByteArrayInputStream(bytes.toByteArray())));
        } catch (MalformedModelException e) {
            throw new IOException(e.getMessage(), e);
        }
        return lm;
    }

    /**
     * One step of the recipe on each model; the relative error of the device's updates. {@code
     * losses} receives the device model's loss on the batch before and after its step.
     */
    private static double trainStepError(Model cpu, Model dev, long[] tokens, double[] losses) {
        List<NDArray> before = snapshot(cpu);
        step(cpu, tokens);
        losses[0] = loss(dev, tokens);
        step(dev, tokens);
        losses[1] = loss(dev, tokens);
        double num = 0;
        double den = 0;
        List<NDArray> afterCpu = snapshot(cpu);
        List<NDArray> afterDev = snapshot(dev);
        for (int i = 0; i < before.size(); i++) {
            float[] b = before.get(i).toFloatArray();
            float[] c = afterCpu.get(i).toFloatArray();
            float[] d = afterDev.get(i).toFloatArray();
            for (int j = 0; j < b.length; j++) {
                double expected = (double) c[j] - b[j];
                double diff = ((double) d[j] - b[j]) - expected;
                num += diff * diff;
                den += expected * expected;
            }
        }
        for (List<NDArray> list : List.of(before, afterCpu, afterDev)) {
            list.forEach(NDArray::close);
        }
        return den == 0 ? Double.NaN : Math.sqrt(num / den);
    }

    private static void step(Model model, long[] tokens) {
        MaskedAdamW adamW =
                MaskedAdamW.builder()
                        .setBlock(model.getBlock())
                        .optLearningRateTracker(Tracker.fixed(1e-3f))
                        .build();
        DefaultTrainingConfig config =
                new DefaultTrainingConfig(new LmLoss())
                        .optOptimizer(adamW)
                        .optDevices(new Device[] {model.getNDManager().getDevice()});
        try (Trainer trainer = model.newTrainer(config);
                TrainingStep step = new TrainingStep(trainer, adamW);
                NDManager m = trainer.getManager().newSubManager()) {
            NDArray all = m.create(tokens, new Shape(4, 48));
            NDList x = new NDList(all.get(":, 0:47"));
            NDList y = new NDList(all.get(":, 1:48"));
            Batch batch = new Batch(m, x, y, 4, new StackBatchifier(), new StackBatchifier(), 0, 1);
            step.run(batch, 1.0f);
        }
    }

    /** The model's mean next-token loss on the training batch, without autograd. */
    private static double loss(Model model, long[] tokens) {
        try (NDManager m = model.getNDManager().newSubManager();
                NoGrad off = NoGrad.open(m)) {
            NDArray all = m.create(tokens, new Shape(4, 48));
            NDArray logits =
                    model.getBlock()
                            .forward(
                                    new ParameterStore(m, false),
                                    new NDList(all.get(":, 0:47")),
                                    false)
                            .head();
            return new LmLoss()
                    .evaluate(new NDList(all.get(":, 1:48")), new NDList(logits))
                    .toType(DataType.FLOAT64, false)
                    .getDouble();
        }
    }

    private static List<NDArray> snapshot(Model model) {
        List<NDArray> arrays = new ArrayList<>();
        for (Pair<String, Parameter> p : model.getBlock().getParameters()) {
            NDArray copy = p.getValue().getArray().toDevice(Device.cpu(), true).duplicate();
            copy.detach();
            arrays.add(copy);
        }
        return arrays;
    }

    private static long[] tokens(int n, int vocab, long seed) {
        Random random = new Random(seed);
        long[] ids = new long[n];
        for (int i = 0; i < n; i++) {
            ids[i] = random.nextInt(vocab);
        }
        return ids;
    }
}
