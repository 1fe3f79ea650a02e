package ai.djl.ttt.examples;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import ai.djl.ttt.config.TttConfig;
import ai.djl.ttt.lm.CausalLm;
import ai.djl.ttt.lm.LmState;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code ttt bench decode-memory}: peak memory of decoding N tokens one at a time. Each (layer, N)
 * runs in a fresh JVM so that peak resident memory (VmHWM) belongs to that run alone.
 */
@Command(
        name = "decode-memory",
        mixinStandardHelpOptions = true,
        description = {
            "Decodes N tokens one at a time (after a 16-token prompt) with a randomly initialised"
                    + " byte-level model, each run in a fresh JVM, and prints its peak resident"
                    + " memory and the size of the recurrent state.",
            "TTT layers keep a state of constant size; the attention baseline's key/value cache"
                    + " grows with every token."
        })
final class DecodeMemoryBench implements Callable<Integer> {

    @Option(
            names = "--layers",
            split = ",",
            defaultValue = "linear,mlp,attention",
            description = "layers to measure (default ${DEFAULT-VALUE})")
    List<String> layers;

    @Option(
            names = "--tokens",
            split = ",",
            defaultValue = "512,4096",
            description = "decode lengths (default ${DEFAULT-VALUE})")
    List<Integer> tokens;

    @Option(
            names = "--size",
            defaultValue = "small",
            description = "model size (see ttt train --size; default ${DEFAULT-VALUE})")
    String size;

    @Mixin DeviceOptions device;

    @Option(names = "--child", hidden = true)
    boolean child;

    /** {@inheritDoc} */
    @Override
    public Integer call() throws Exception {
        validate();
        if (child) {
            measure(layers.get(0), tokens.get(0));
            return 0;
        }
        System.out.printf(
                Locale.ROOT,
                "%-10s %8s %14s %14s %14s %12s%n",
                "layer",
                "tokens",
                "peak RSS MiB",
                "RSS before MiB",
                "state KiB",
                "ms/token");
        for (String layer : layers) {
            for (int n : tokens) {
                String line = runChild(layer, n);
                System.out.println(line);
            }
        }
        return 0;
    }

    /** Checks every value before the first child JVM starts, naming the allowed ones. */
    private void validate() {
        layers =
                layers.stream()
                        .map(l -> Options.requireOneOf("--layers", l, ModelOptions.LAYERS))
                        .toList();
        Options.requireEachAtLeast(
                "--tokens", tokens.stream().mapToInt(Integer::intValue).toArray(), 1);
        size = Options.requireOneOf("--size", size, ModelOptions.SIZES);
        device.get(); // a bad or absent device is one error line here, not a failed child
    }

    private String runChild(String layer, int n) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.add("-Xmx96m"); // a small heap, so that peak RSS reflects native (tensor) memory
        command.add("-XX:+UseSerialGC");
        command.add("-Dai.djl.pytorch.num_threads=1");
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(TttCli.class.getName());
        command.addAll(
                List.of(
                        "bench",
                        "decode-memory",
                        "--child",
                        "--layers",
                        layer,
                        "--tokens",
                        Integer.toString(n),
                        "--size",
                        size));
        if (device.device != null) {
            command.addAll(List.of("--device", device.device));
        }
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String result = null;
        try (BufferedReader r =
                new BufferedReader(
                        new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line; (line = r.readLine()) != null; ) {
                if (line.startsWith(layer + " ")) {
                    result = line;
                }
            }
        }
        if (p.waitFor() != 0 || result == null) {
            throw new IOException("the measurement of " + layer + " x " + n + " failed");
        }
        return result;
    }

    private void measure(String layer, int n) throws IOException {
        ModelOptions options = new ModelOptions();
        options.layer = layer;
        options.backbone = "mamba";
        options.size = size;
        TttConfig config = options.toConfig(256);
        Engine.getInstance().setRandomSeed(1);
        Device on = device.get();
        try (Model model = Model.newInstance("bench", on);
                NDManager manager = NDManager.newBaseManager(on)) {
            CausalLm lm = new CausalLm(config);
            lm.initialize(model.getNDManager(), DataType.FLOAT32, new Shape(1, 16));
            model.setBlock(lm);
            ParameterStore ps = new ParameterStore(manager, false);
            LmState state;
            try (NDManager prompt = manager.newSubManager()) {
                CausalLm.Output out =
                        lm.prefill(
                                ps,
                                prompt.arange(0, 16, 1, DataType.INT64).reshape(1, 16),
                                null,
                                false);
                out.state().attach(manager);
                state = out.state();
            }
            long before = status("VmRSS");
            long start = System.nanoTime();
            for (int t = 0; t < n; t++) {
                try (NDManager step = manager.newSubManager()) {
                    NDArray ids = step.create(new long[] {(t * 31L) % 256}).reshape(1, 1);
                    CausalLm.Output out = lm.prefill(ps, ids, state, false);
                    out.state().attach(manager);
                    state.close();
                    state = out.state();
                }
            }
            double msPerToken = (System.nanoTime() - start) / 1e6 / n;
            long stateBytes = 0;
            for (NDArray a : state.arrays()) {
                stateBytes += a.size() * a.getDataType().getNumOfBytes();
            }
            System.out.printf(
                    Locale.ROOT,
                    "%-10s %8d %14.1f %14.1f %14.1f %12.2f%n",
                    layer,
                    n,
                    status("VmHWM") / 1024.0,
                    before / 1024.0,
                    stateBytes / 1024.0,
                    msPerToken);
            state.close();
        }
    }

    /** A field of /proc/self/status in KiB. */
    private static long status(String field) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith(field + ":")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        throw new IOException("no " + field + " in /proc/self/status");
    }
}
