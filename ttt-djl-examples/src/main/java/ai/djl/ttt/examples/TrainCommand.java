package ai.djl.ttt.examples;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.dataset.Dataset;
import ai.djl.ttt.config.TttConfig;
import ai.djl.ttt.lm.CausalLm;
import ai.djl.ttt.lm.Generator;
import ai.djl.ttt.lm.SamplingConfig;
import ai.djl.ttt.runtime.BoundedText;
import ai.djl.ttt.training.ByteTokenizer;
import ai.djl.ttt.training.Corpus;
import ai.djl.ttt.training.HuggingFaceTextTokenizer;
import ai.djl.ttt.training.LmTraining;
import ai.djl.ttt.training.ModelDirectory;
import ai.djl.ttt.training.Tokenizer;
import ai.djl.ttt.training.TrainingSettings;
import ai.djl.ttt.training.TrainingState;
import ai.djl.ttt.training.UnigramBaseline;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code ttt train}: trains a small language model and reports bits per byte. */
@Command(
        name = "train",
        mixinStandardHelpOptions = true,
        description = {
            "Trains a causal language model with TTT layers (or the attention baseline) using DJL's"
                    + " Trainer, on CPU, offline.",
            "By default: a byte-level TTT-Linear model with the paper's Mamba backbone, trained on"
                    + " the corpus bundled with ttt-djl (its own docs and Java sources).",
            "Prints a progress bar, validation loss, train and validation bits per byte next to the"
                    + " unigram baseline of the same corpus, saves the model directory, and"
                    + " generates a sample."
        })
final class TrainCommand implements Callable<Integer> {

    @Mixin ModelOptions model;

    @Mixin EngineOptions engine;

    @Mixin DeviceOptions device;

    @Option(
            names = "--context",
            defaultValue = "128",
            description = "tokens per training window T (default ${DEFAULT-VALUE})")
    int context;

    @Option(
            names = "--steps",
            defaultValue = "400",
            description = "optimizer steps (default ${DEFAULT-VALUE})")
    int steps;

    @Option(
            names = "--batch",
            defaultValue = "16",
            description = "windows per step B (default ${DEFAULT-VALUE})")
    int batch;

    @Option(
            names = "--lr",
            defaultValue = "3e-3",
            description =
                    "peak learning rate (default ${DEFAULT-VALUE}), after a linear warm-up, cosine decay to lr/10")
    float learningRate;

    @Option(
            names = "--warmup",
            defaultValue = "-1",
            description = "warm-up steps (default: 10%% of --steps)")
    int warmup;

    @Option(
            names = "--weight-decay",
            defaultValue = "0.1",
            description =
                    "AdamW decoupled weight decay on weight matrices (default ${DEFAULT-VALUE})")
    float weightDecay;

    @Option(
            names = "--clip",
            defaultValue = "1.0",
            description = "global gradient-norm clipping (default ${DEFAULT-VALUE})")
    float clip;

    @Option(
            names = "--corpus",
            description = "a text file or a folder of text files (default: the bundled corpus)")
    Path corpus;

    @Option(
            names = "--wikitext2",
            description = "train on WikiText-2 (DJL downloads it: needs internet)")
    boolean wikiText2;

    @Option(
            names = "--tokenizer",
            description = "a HuggingFace tokenizer.json (default: UTF-8 bytes)")
    Path tokenizerFile;

    @Option(
            names = "--model-dir",
            description = "where the model is saved (default: models/ttt-LAYER-BACKBONE-SIZE)")
    Path modelDir;

    @Option(
            names = "--resume",
            description = "continue the run saved in --model-dir (its settings win)")
    boolean resume;

    @Option(
            names = "--overwrite",
            description =
                    "replace the model in a --model-dir that is not empty (without it, train"
                            + " refuses: a second run must not silently delete the first); the"
                            + " new run trains beside it and replaces only ttt-djl's files, once"
                            + " it has its final checkpoint: a run that fails leaves the old"
                            + " model as it was")
    boolean overwrite;

    @Option(
            names = "--validate-every",
            defaultValue = "100",
            description = "steps between validations (default ${DEFAULT-VALUE})")
    int validateEvery;

    @Option(
            names = "--checkpoint-every",
            defaultValue = "200",
            description =
                    "steps between checkpoints, 0 for only the end (default ${DEFAULT-VALUE})")
    int checkpointEvery;

    @Option(
            names = "--seed",
            defaultValue = "42",
            description =
                    "seed of initialisation, batch order and sampling (default ${DEFAULT-VALUE})")
    long seed;

    @Option(
            names = "--sample-tokens",
            defaultValue = "300",
            description =
                    "tokens of the sample printed at the end, 0 for none (default ${DEFAULT-VALUE})")
    int sampleTokens;

    @Option(
            names = "--sample-prompt",
            defaultValue =
                    "The model reads the prompt in the dual form, then decodes each new token in"
                            + " the primal form; the",
            description =
                    "text the sample at the end continues (default: ${DEFAULT-VALUE}); an"
                            + " empty text takes the first 64 tokens of the validation split")
    String samplePrompt;

    /** {@inheritDoc} */
    @Override
    public Integer call() throws Exception {
        validate();
        engine.apply(model.size);
        Device on = device.get();
        PrintStream out = System.out;
        Path dir = modelDir != null ? modelDir : Path.of(model.defaultModelDir());
        boolean replacing = checkModelDir(dir);
        // every input is read and checked before the model directory is touched
        String text = readCorpus();
        try (Tokenizer tokenizer = openTokenizer(dir)) {
            LmTraining.Data data = LmTraining.split(text, tokenizer, 0.1);
            out.printf(
                    Locale.ROOT,
                    "corpus: %s, %,d bytes -> %,d train / %,d validation tokens (%s)%n",
                    corpusName(),
                    text.getBytes(java.nio.charset.StandardCharsets.UTF_8).length,
                    data.trainTokens().length,
                    data.validationTokens().length,
                    tokenizer.describe());

            TrainingState resumeFrom = null;
            Model m;
            if (resume) {
                ModelDirectory.Loaded loaded = ModelDirectory.load(dir, on);
                m = loaded.model();
                resumeFrom = loaded.training();
                if (resumeFrom == null) {
                    throw new IllegalArgumentException(
                            dir + " has no training.json to resume from");
                }
                out.printf("resuming %s at step %d%n", dir, resumeFrom.step);
            } else {
                LmTraining.requireOneBatch(data, settings());
                m = newModel(on, model.toConfig(tokenizer.vocabSize()));
            }
            // --overwrite: the new run trains beside the old model, which it replaces only once
            // the new one has its final checkpoint; a run that fails leaves the old one as it was
            Path target = dir;
            try (Model trained = m) {
                if (replacing) {
                    target = ModelDirectory.newStaging(dir);
                }
                CausalLm lm = (CausalLm) trained.getBlock();
                TttConfig config = lm.getConfig();
                TrainingSettings settings = resumeFrom != null ? resumeFrom.settings : settings();
                out.printf(
                        Locale.ROOT,
                        "model: %s, %s backbone, C=%d, %d blocks, %d heads, %,d parameters%n",
                        config.getLayerType().officialName(),
                        config.isPreConv() ? "mamba" : "transformer",
                        config.getHiddenSize(),
                        config.getNumHiddenLayers(),
                        config.getNumAttentionHeads(),
                        parameterCount(lm));
                out.printf(
                        Locale.ROOT,
                        "training: %d steps x %d windows x %d tokens, lr %.1e, threads %s%n",
                        settings.steps(),
                        settings.batchSize(),
                        settings.contextLength(),
                        settings.learningRate(),
                        System.getProperty("ai.djl.pytorch.num_threads", "default"));
                long start = System.nanoTime();
                TrainingState state =
                        LmTraining.train(
                                trained, tokenizer, data, settings, target, resumeFrom, out);
                if (replacing) {
                    ModelDirectory.replace(dir, target);
                }
                double seconds = (System.nanoTime() - start) / 1e9;
                report(trained, data, settings, tokenizer, state, seconds, dir, out);
                if (sampleTokens > 0) {
                    sample(lm, trained, tokenizer, data, out);
                }
            } finally {
                if (replacing && !target.equals(dir)) {
                    ModelDirectory.discardStaging(target); // a failed run's; gone after a swap
                }
            }
        }
        return 0;
    }

    /** Checks every option, naming the option and its allowed values. */
    private void validate() {
        model.validate();
        Options.requireAtLeast("--context", context, 1);
        Options.requireAtLeast("--steps", steps, 1);
        Options.requireAtLeast("--batch", batch, 1);
        Options.requirePositive("--lr", learningRate);
        if (warmup != -1) {
            Options.requireBetween("--warmup", warmup, 0, steps - 1);
        }
        Options.requireNonNegative("--weight-decay", weightDecay);
        Options.requirePositive("--clip", clip);
        Options.requireAtLeast("--validate-every", validateEvery, 1);
        Options.requireAtLeast("--checkpoint-every", checkpointEvery, 0);
        Options.requireAtLeast("--sample-tokens", sampleTokens, 0);
        if (corpus != null && wikiText2) {
            throw new IllegalArgumentException("--corpus and --wikitext2 exclude each other");
        }
        if (corpus != null && !Files.exists(corpus)) {
            throw new IllegalArgumentException("--corpus " + corpus + ": no such file or folder");
        }
        if (tokenizerFile != null && !Files.isRegularFile(tokenizerFile)) {
            throw new IllegalArgumentException(
                    "--tokenizer " + tokenizerFile + ": no such file (expected a tokenizer.json)");
        }
    }

    /**
     * Refuses to start where a run would be lost: a new run into a directory that is not empty
     * needs {@code --overwrite}, which replaces only files that ttt-djl wrote; {@code --resume}
     * needs a directory with a checkpoint. Touches nothing.
     *
     * @return whether the run replaces a model (a new run into a directory that is not empty)
     */
    private boolean checkModelDir(Path dir) throws Exception {
        if (resume && overwrite) {
            throw new IllegalArgumentException(
                    "--resume and --overwrite exclude each other: --resume continues the run in"
                            + " --model-dir, --overwrite replaces it");
        }
        if (resume) {
            if (!Files.isDirectory(dir)) {
                throw new IllegalArgumentException(
                        "--resume: there is no model directory "
                                + dir
                                + " to resume (drop --resume to start a new run)");
            }
            if (!Files.isRegularFile(dir.resolve("training.json"))) {
                throw new IllegalArgumentException(
                        "--resume: "
                                + dir
                                + " has no training.json, the record of a checkpoint of 'ttt"
                                + " train' (nothing to resume)");
            }
            if (tokenizerFile != null) {
                throw new IllegalArgumentException(
                        "--tokenizer cannot change on --resume: the run's own tokenizer in "
                                + dir
                                + " is used");
            }
            return false;
        }
        if (Files.exists(dir) && !Files.isDirectory(dir)) {
            throw new IllegalArgumentException("--model-dir " + dir + " is a file, not a folder");
        }
        List<String> contents = ModelDirectory.contents(dir);
        if (contents.isEmpty()) {
            return false;
        }
        if (!overwrite) {
            throw new IllegalArgumentException(
                    "--model-dir "
                            + dir
                            + " is not empty (it holds "
                            + BoundedText.firstNames(contents, 4)
                            + "): pass --resume to continue its run, --overwrite to replace it,"
                            + " or choose another --model-dir");
        }
        List<String> foreign = ModelDirectory.foreignFiles(dir);
        if (!foreign.isEmpty()) {
            throw new IllegalArgumentException(
                    "--overwrite replaces only the files ttt-djl wrote, but --model-dir "
                            + dir
                            + " holds "
                            + BoundedText.firstNames(foreign, 4)
                            + ": move them away or choose another --model-dir");
        }
        return true;
    }

    private TrainingSettings settings() {
        int w = warmup >= 0 ? warmup : Math.min(steps - 1, Math.max(1, steps / 10));
        return new TrainingSettings(
                steps,
                batch,
                context,
                learningRate,
                learningRate / 10,
                w,
                weightDecay,
                clip,
                validateEvery,
                checkpointEvery,
                seed);
    }

    private Model newModel(Device on, TttConfig config) {
        Engine.getInstance().setRandomSeed((int) seed);
        Model m = Model.newInstance(ModelDirectory.MODEL_NAME, on);
        CausalLm lm = new CausalLm(config);
        lm.initialize(m.getNDManager(), DataType.FLOAT32, new Shape(batch, context));
        m.setBlock(lm);
        return m;
    }

    private String readCorpus() throws Exception {
        if (wikiText2) {
            return Corpus.wikiText2(Dataset.Usage.TRAIN);
        }
        return corpus != null ? Corpus.read(corpus) : Corpus.resource("/ttt-corpus.txt");
    }

    private String corpusName() {
        return wikiText2
                ? "WikiText-2"
                : corpus != null ? corpus.toString() : "bundled (ttt-djl docs and sources)";
    }

    private Tokenizer openTokenizer(Path dir) throws Exception {
        if (resume) {
            return Tokenizer.load(dir);
        }
        return tokenizerFile != null
                ? HuggingFaceTextTokenizer.load(tokenizerFile)
                : new ByteTokenizer();
    }

    private static long parameterCount(CausalLm lm) {
        return lm.getParameters().values().stream().mapToLong(p -> p.getArray().size()).sum();
    }

    static void report(
            Model model,
            LmTraining.Data data,
            TrainingSettings settings,
            Tokenizer tokenizer,
            TrainingState state,
            double seconds,
            Path dir,
            PrintStream out) {
        UnigramBaseline unigram = new UnigramBaseline(data.trainTokens(), tokenizer.vocabSize());
        double unigramBpb =
                UnigramBaseline.bitsPerByte(
                        unigram.crossEntropy(data.validationTokens()),
                        data.validationTokens().length,
                        data.validationBytes());
        int windows = (data.validationTokens().length - 1) / settings.contextLength();
        double trainLoss =
                LmTraining.meanLoss(
                        model,
                        data.trainTokens(),
                        settings.contextLength(),
                        settings.batchSize(),
                        windows);
        long trainTokens = (long) windows * settings.contextLength();
        double trainBpb =
                UnigramBaseline.bitsPerByte(
                        trainLoss,
                        trainTokens,
                        Math.round(
                                (double) trainTokens
                                        * data.trainBytes()
                                        / data.trainTokens().length));
        TrainingState.Evaluation last = state.validations.get(state.validations.size() - 1);
        out.println();
        out.printf(Locale.ROOT, "%-28s %10s%n", "", "bits/byte");
        out.printf(Locale.ROOT, "%-28s %10.3f%n", "unigram baseline (validation)", unigramBpb);
        out.printf(Locale.ROOT, "%-28s %10.3f%n", "model, train split", trainBpb);
        out.printf(Locale.ROOT, "%-28s %10.3f%n", "model, validation split", last.bitsPerByte());
        out.printf(
                Locale.ROOT,
                "%d steps in %.0f s (%.0f tokens/s); model saved to %s%n",
                state.step,
                seconds,
                settings.batchSize() * (double) settings.contextLength() * state.step / seconds,
                dir);
    }

    private void sample(
            CausalLm lm, Model m, Tokenizer tokenizer, LmTraining.Data data, PrintStream out) {
        long[] val = data.validationTokens();
        long[] prompt =
                samplePrompt.isEmpty()
                        ? java.util.Arrays.copyOf(val, Math.min(64, val.length))
                        : tokenizer.encode(samplePrompt);
        SamplingConfig sampling =
                SamplingConfig.builder()
                        .optMaxNewTokens(sampleTokens)
                        .optTemperature(0.8)
                        .optTopK(40)
                        .optSeed(seed)
                        .build();
        long[] generated =
                new Generator(lm, m.getNDManager())
                        .generate(List.of(prompt), sampling, null)
                        .get(0);
        out.println();
        out.printf(
                "sample (temperature 0.8, top-k 40, seed %d): the prompt%s, then \u2502, then"
                        + " what the model wrote:%n",
                seed, samplePrompt.isEmpty() ? " (from the validation split)" : "");
        out.println("----");
        out.print(tokenizer.decode(prompt));
        out.print("\u2502");
        out.println(tokenizer.decode(generated));
        out.println("----");
    }
}
