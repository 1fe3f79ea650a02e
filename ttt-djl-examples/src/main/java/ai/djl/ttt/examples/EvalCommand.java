package ai.djl.ttt.examples;

import ai.djl.ttt.runtime.Precision;
import ai.djl.ttt.training.Corpus;
import ai.djl.ttt.training.LmTraining;
import ai.djl.ttt.training.ModelDirectory;
import ai.djl.ttt.training.UnigramBaseline;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code ttt eval}: bits per byte of a trained model on a corpus' validation split. */
@Command(
        name = "eval",
        mixinStandardHelpOptions = true,
        description = {
            "Measures a model saved by 'ttt train' on the validation split (the last 10%%) of a"
                    + " corpus, in bits per UTF-8 byte, next to the unigram baseline of the same"
                    + " corpus."
        })
final class EvalCommand implements Callable<Integer> {

    @Option(
            names = "--model-dir",
            required = true,
            description = "a directory written by 'ttt train'")
    Path modelDir;

    @Option(names = "--corpus", description = "a text file or folder (default: the bundled corpus)")
    Path corpus;

    @Option(names = "--context", description = "tokens per window (default: the training context)")
    Integer context;

    @Option(
            names = "--batch",
            defaultValue = "16",
            description = "windows per forward (default ${DEFAULT-VALUE})")
    int batch;

    @Mixin EngineOptions engine;

    @Mixin DeviceOptions device;

    @Mixin PrecisionOptions precision;

    @Option(
            names = "--by-token",
            description =
                    "score one window and one token per call, as generation runs (every product a"
                            + " one-row product: what --dtype float16 changes on a CPU); slower")
    boolean byToken;

    @Option(
            names = "--windows",
            defaultValue = "0",
            description = "with --by-token: score the first N windows only, 0 for all (default)")
    int windows;

    /** {@inheritDoc} */
    @Override
    public Integer call() throws Exception {
        if (context != null) {
            Options.requireAtLeast("--context", context, 1);
        }
        Options.requireAtLeast("--batch", batch, 1);
        Options.requireAtLeast("--windows", windows, 0);
        if (windows > 0 && !byToken) {
            throw new IllegalArgumentException("--windows applies to --by-token scoring only");
        }
        Precision dtype = precision.get();
        if (corpus != null && !java.nio.file.Files.exists(corpus)) {
            throw new IllegalArgumentException("--corpus " + corpus + ": no such file or folder");
        }
        engine.apply("small");
        String text = corpus != null ? Corpus.read(corpus) : Corpus.resource("/ttt-corpus.txt");
        try (ModelDirectory.Loaded loaded = ModelDirectory.load(modelDir, device.get())) {
            loaded.lm().setPrecision(dtype);
            int t =
                    context != null
                            ? context
                            : loaded.training() != null
                                    ? loaded.training().settings.contextLength()
                                    : 128;
            LmTraining.Data data = LmTraining.split(text, loaded.tokenizer(), 0.1);
            double loss =
                    byToken
                            ? LmTraining.meanLossByToken(
                                    loaded.model(), data.validationTokens(), t, windows)
                            : LmTraining.meanLoss(
                                    loaded.model(), data.validationTokens(), t, batch, 0);
            UnigramBaseline unigram =
                    new UnigramBaseline(data.trainTokens(), loaded.tokenizer().vocabSize());
            long tokens = data.validationTokens().length;
            System.out.printf(
                    Locale.ROOT,
                    "%-28s %10s%n",
                    "validation split (" + tokens + " tokens)",
                    "bits/byte");
            System.out.printf(
                    Locale.ROOT,
                    "%-28s %10.3f%n",
                    "unigram baseline",
                    UnigramBaseline.bitsPerByte(
                            unigram.crossEntropy(data.validationTokens()),
                            tokens,
                            data.validationBytes()));
            System.out.printf(
                    Locale.ROOT,
                    "%-28s %10.3f%n",
                    "model (context "
                            + t
                            + (dtype == Precision.FLOAT32 ? "" : ", " + dtype.officialName())
                            + (byToken ? ", by token" : "")
                            + ")",
                    UnigramBaseline.bitsPerByte(loss, tokens, data.validationBytes()));
        }
        return 0;
    }
}
