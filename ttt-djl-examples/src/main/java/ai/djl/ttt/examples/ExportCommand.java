package ai.djl.ttt.examples;

import ai.djl.MalformedModelException;
import ai.djl.ttt.config.TttConfig;
import ai.djl.ttt.io.OfficialWeights;
import ai.djl.ttt.training.ModelDirectory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code ttt export}: a trained model in the official format, for the official code. */
@Command(
        name = "export",
        mixinStandardHelpOptions = true,
        description = {
            "Writes a model saved by 'ttt train' in the official format, for the official"
                    + " PyTorch code (or under the JAX code's names).",
            "pytorch: config.json (the official TTTConfig keys) and model.safetensors (the"
                    + " TTTForCausalLM state-dict names), which ttt-lm-pytorch's"
                    + " TTTForCausalLM.from_pretrained(OUT) loads; jax: config.json and model.npz"
                    + " under ttt-lm-jax's parameter names and layouts. The tokenizer file comes"
                    + " along.",
            "Refuses a model the official code cannot express (the attention baselines, an"
                    + " inner MLP of another depth) and an OUT that exists; OUT is written under a"
                    + " temporary name and renamed when complete."
        })
final class ExportCommand implements Callable<Integer> {

    /** The tokenizer files of a model directory, copied into the export when present. */
    private static final List<String> TOKENIZER_FILES = List.of("tokenizer.json", "tokenizer.txt");

    @Option(
            names = "--model-dir",
            required = true,
            description = "a directory written by 'ttt train'")
    Path modelDir;

    @Option(names = "--out", required = true, description = "the folder to create (must not exist)")
    Path out;

    @Option(
            names = "--format",
            defaultValue = "pytorch",
            description =
                    "pytorch: model.safetensors under ttt-lm-pytorch's names; jax: model.npz under"
                            + " ttt-lm-jax's names and layouts (default ${DEFAULT-VALUE})")
    String format;

    @Mixin DeviceOptions device;

    /** {@inheritDoc} */
    @Override
    public Integer call() throws Exception {
        OfficialWeights.Format chosen;
        try {
            chosen = OfficialWeights.Format.fromName(format);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(
                    "--format " + format + ": expected pytorch or jax", e);
        }
        if (Files.exists(out, LinkOption.NOFOLLOW_LINKS)) {
            throw new IllegalArgumentException(
                    "--out "
                            + out
                            + " already exists: export never overwrites; name a folder that does"
                            + " not exist");
        }
        Path config = modelDir.resolve("config.json");
        if (Files.isRegularFile(config)) {
            // refuse before loading weights: the config alone says whether ttt.py can build it
            TttConfig c;
            try {
                c = TttConfig.load(config);
            } catch (IllegalArgumentException e) {
                throw new MalformedModelException(e.getMessage(), e);
            }
            try {
                OfficialWeights.requireOfficial(c);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(
                        "--model-dir " + modelDir + " cannot be exported: " + e.getMessage(), e);
            }
        }
        List<Path> tokenizer = new ArrayList<>();
        for (String name : TOKENIZER_FILES) {
            if (Files.isRegularFile(modelDir.resolve(name))) {
                tokenizer.add(modelDir.resolve(name));
            }
        }
        try (ModelDirectory.Loaded loaded = ModelDirectory.load(modelDir, device.get())) {
            OfficialWeights.save(loaded.lm(), out, chosen, tokenizer);
            TttConfig c = loaded.lm().getConfig();
            System.out.printf(
                    Locale.ROOT,
                    "exported %s (%s, %s backbone, %d blocks, tokenizer: %s) to %s:%n",
                    modelDir,
                    c.getLayerType().displayName(),
                    c.isPreConv() ? "Mamba" : "Transformer",
                    c.getNumHiddenLayers(),
                    loaded.tokenizer().describe(),
                    out);
        }
        for (Path f : listing(out)) {
            System.out.printf(Locale.ROOT, "  %-20s %,12d bytes%n", f.getFileName(), Files.size(f));
        }
        System.out.println(
                chosen == OfficialWeights.Format.PYTORCH
                        ? "load it with the official code: TTTForCausalLM.from_pretrained(\""
                                + out
                                + "\") (see docs/official-checkpoints.md)"
                        : "model.npz holds the JAX code's parameter names and layouts (see"
                                + " docs/official-checkpoints.md)");
        return 0;
    }

    private static List<Path> listing(Path dir) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.sorted().toList();
        }
    }
}
