package ai.djl.ttt.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.ToIntFunction;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The train, generate and eval commands end to end, on a tiny setting. */
class CliTest {

    static String run(int expectedStatus, String... args) {
        return capture(expectedStatus, TttCli::run, args);
    }

    /** Runs a command-line entry point with stdout and stderr captured; checks its exit status. */
    static String capture(int expectedStatus, ToIntFunction<String[]> main, String... args) {
        Captured run = captured(main, args);
        assertEquals(expectedStatus, run.status(), run.out());
        return run.out();
    }

    /** What a command-line run printed (stdout and stderr together) and its exit status. */
    record Captured(int status, String out) {}

    /** Runs a command-line entry point with stdout and stderr captured. */
    static Captured captured(ToIntFunction<String[]> main, String... args) {
        PrintStream savedOut = System.out;
        PrintStream savedErr = System.err;
        ByteArrayOutputStream buffer = new ByteArrayOutputStream();
        int status;
        try {
            PrintStream capture = new PrintStream(buffer, true, StandardCharsets.UTF_8);
            System.setOut(capture);
            System.setErr(capture);
            status = main.applyAsInt(args);
        } finally {
            System.setOut(savedOut);
            System.setErr(savedErr);
        }
        return new Captured(status, buffer.toString(StandardCharsets.UTF_8));
    }

    /**
     * The arguments of a tiny {@code ttt train} run (batch 2, context 16, no sample) of {@code
     * steps} steps on a corpus into a model folder, then {@code more}.
     */
    static List<String> tinyTrain(Path corpus, Path dir, int steps, String... more) {
        List<String> args =
                new ArrayList<>(
                        List.of(
                                "train",
                                "--size",
                                "tiny",
                                "--steps",
                                Integer.toString(steps),
                                "--batch",
                                "2",
                                "--context",
                                "16",
                                "--sample-tokens",
                                "0",
                                "--corpus",
                                corpus.toString(),
                                "--model-dir",
                                dir.toString()));
        args.addAll(List.of(more));
        return args;
    }

    /** Runs {@code ttt generate} on a model folder with more options; checks its exit status. */
    private static String generate(int expectedStatus, Path model, String... options) {
        List<String> args = new ArrayList<>(List.of("generate", "--model-dir", model.toString()));
        args.addAll(List.of(options));
        return run(expectedStatus, args.toArray(String[]::new));
    }

    static Path corpus(Path dir) throws Exception {
        Random random = new Random(3);
        String[] words = {"state", "token", "layer", "weight", "learns", "reads", "the", "a"};
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 4000; i++) {
            sb.append(words[random.nextInt(words.length)]).append(i % 9 == 8 ? ".\n" : " ");
        }
        Path file = dir.resolve("corpus.txt");
        Files.writeString(file, sb.toString());
        return file;
    }

    @Test
    void trainResumeGenerateAndEval(@TempDir Path dir) throws Exception {
        Path corpus = corpus(dir);
        Path model = dir.resolve("model");
        String train =
                run(
                        0,
                        "train",
                        "--size",
                        "tiny",
                        "--steps",
                        "6",
                        "--batch",
                        "4",
                        "--context",
                        "32",
                        "--validate-every",
                        "3",
                        "--checkpoint-every",
                        "3",
                        "--corpus",
                        corpus.toString(),
                        "--model-dir",
                        model.toString(),
                        "--sample-tokens",
                        "20");
        assertTrue(train.contains("unigram baseline (validation)"), train);
        assertTrue(train.contains("step 6: validation loss"), train);
        assertTrue(train.contains("sample (temperature 0.8"), train);
        // the sample continues an English prompt, and the output says what the bar marks
        assertTrue(train.contains("the prompt, then \u2502, then what the model wrote:"), train);
        assertTrue(train.contains("in the primal form; the\u2502"), train);
        // not a terminal: no progress-bar redraws in the output
        assertFalse(train.contains("\r"), train);
        assertTrue(Files.isRegularFile(model.resolve("config.json")));
        assertTrue(Files.isRegularFile(model.resolve("ttt-lm-0006.params")));
        assertTrue(Files.isRegularFile(model.resolve("optimizer-0006.npz")));

        String resumed =
                run(
                        0,
                        "train",
                        "--resume",
                        "--model-dir",
                        model.toString(),
                        "--corpus",
                        corpus.toString(),
                        "--sample-tokens",
                        "0");
        assertTrue(resumed.contains("resuming " + model + " at step 6"), resumed);

        String generated = generate(0, model, "--prompt", "the state", "--max-tokens", "12");
        assertTrue(generated.startsWith("the state"), generated);
        // one default decoding for the CLI and the zoo (temperature 0.8, top-k 40, seed 42)
        try (ai.djl.repository.zoo.ZooModel<String, String> zoo =
                        ai.djl.repository.zoo.Criteria.builder()
                                .setTypes(String.class, String.class)
                                .optModelPath(model)
                                .optTranslatorFactory(new ai.djl.ttt.zoo.TttTranslatorFactory())
                                .optArgument("maxNewTokens", 12)
                                .build()
                                .loadModel();
                ai.djl.inference.Predictor<String, String> predictor = zoo.newPredictor()) {
            assertEquals("the state" + predictor.predict("the state"), generated.strip());
        }

        String batch =
                generate(0, model, "--prompt", "a", "--prompt", "the layer", "--max-tokens", "5");
        assertTrue(batch.contains("---- prompt 2"), batch);
        // the generate limits: prompt length, batch size, a deadline between two tokens
        assertEquals(
                "error: a --prompt has 9 tokens, more than --max-prompt-tokens 8",
                generate(2, model, "--prompt", "the state", "--max-prompt-tokens", "8").strip());
        assertEquals(
                "error: 2 prompts are more than --max-batch 1: generate them in several runs or"
                        + " raise --max-batch",
                generate(2, model, "--prompt", "a", "--prompt", "b", "--max-batch", "1").strip());
        String late =
                generate(2, model, "--prompt", "a", "--max-tokens", "100000", "--timeout", "0.001");
        assertTrue(late.contains("error: stopped after"), late);
        assertTrue(late.contains("new tokens: the deadline of 1 ms passed"), late);

        String eval =
                run(0, "eval", "--model-dir", model.toString(), "--corpus", corpus.toString());
        assertTrue(eval.contains("model (context 32)"), eval);
    }

    @Test
    void badUsageIsReported(@TempDir Path dir) throws Exception {
        String missing = generate(2, dir.resolve("nothing"), "--prompt", "x");
        assertTrue(missing.contains("no model directory"), missing);
        String layer =
                run(2, "train", "--layer", "transformer", "--corpus", corpus(dir).toString());
        assertTrue(
                layer.contains(
                        "--layer must be one of linear, mlp, attention, linear_attention, got"
                                + " 'transformer'"),
                layer);
    }

    @Test
    void wikiText2FailsFastOffline() {
        String saved = System.getProperty("DJL_REPO_URL");
        System.setProperty("DJL_REPO_URL", "file:///nonexistent-djl-repository/");
        try {
            String out = run(2, "train", "--wikitext2", "--steps", "1");
            assertTrue(out.contains("WikiText-2 could not be loaded"), out);
        } finally {
            if (saved == null) {
                System.clearProperty("DJL_REPO_URL");
            } else {
                System.setProperty("DJL_REPO_URL", saved);
            }
        }
    }

    @Test
    void anExistingModelIsNeverSilentlyReplaced(@TempDir Path dir) throws Exception {
        Path corpus = corpus(dir);
        Path model = dir.resolve("model");
        String[] train = tinyTrain(corpus, model, 2).toArray(String[]::new);
        run(0, train);
        byte[] first = Files.readAllBytes(model.resolve("ttt-lm-0002.params"));

        String refused = run(2, train);
        assertTrue(
                refused.contains(
                        "--model-dir "
                                + model
                                + " is not empty (it holds config.json, optimizer-0002.npz,"
                                + " serving.properties, tokenizer.txt, ...): pass --resume to"
                                + " continue its run, --overwrite to replace it"),
                refused);
        assertTrue(
                java.util.Arrays.equals(
                        first, Files.readAllBytes(model.resolve("ttt-lm-0002.params"))));

        String[] overwrite = java.util.Arrays.copyOf(train, train.length + 1);
        overwrite[train.length] = "--overwrite";
        overwrite[2] = "tiny";
        overwrite[4] = "3";
        run(0, overwrite);
        assertTrue(Files.isRegularFile(model.resolve("ttt-lm-0003.params")));
        assertFalse(Files.exists(model.resolve("ttt-lm-0002.params")));
    }

    @Test
    void threadsAreBoundedByTheCores() {
        int cores = Runtime.getRuntime().availableProcessors();
        String over =
                run(
                        2,
                        "generate",
                        "--model-dir",
                        "x",
                        "--prompt",
                        "a",
                        "--threads",
                        Integer.toString(cores + 1));
        assertEquals(
                "error: --threads "
                        + (cores + 1)
                        + " is more than the "
                        + cores
                        + " cores this JVM sees; more threads than cores only slow PyTorch down:"
                        + " use at most "
                        + cores,
                over.strip());
    }

    @Test
    void errorsAreOneLineAndStacktraceAddsTheTrace() {
        String plain = run(2, "eval", "--model-dir", "x", "--context", "0");
        assertEquals("error: --context must be an integer >= 1, got 0", plain.strip(), plain);
        String traced = run(2, "eval", "--model-dir", "x", "--context", "0", "--stacktrace");
        assertTrue(traced.startsWith("error: --context must be an integer >= 1, got 0"), traced);
        assertTrue(traced.contains("at ai.djl.ttt.examples.Options.requireAtLeast"), traced);
        // an error nobody planned for still names its kind, never a bare message like "/ by zero"
        assertEquals(
                "unexpected ArithmeticException: / by zero",
                TttCli.message(new ArithmeticException("/ by zero")));
        assertEquals(
                "no such file or directory: a/config.json",
                TttCli.message(new java.nio.file.NoSuchFileException("a/config.json")));
    }

    @Test
    void divergenceStopsTrainingAndKeepsTheLastGoodCheckpoint(@TempDir Path dir) throws Exception {
        Path model = dir.resolve("model");
        String out =
                run(
                        2,
                        tinyTrain(
                                        corpus(dir),
                                        model,
                                        8,
                                        "--lr",
                                        "1e30",
                                        "--warmup",
                                        "0",
                                        "--checkpoint-every",
                                        "1")
                                .toArray(String[]::new));
        java.util.regex.Matcher m =
                java.util.regex.Pattern.compile(
                                "error: step (\\d+): training diverged: the loss is \\S+ and the"
                                        + " gradient norm \\S+; this step was not applied. Lower"
                                        + " the learning rate")
                        .matcher(out);
        assertTrue(m.find(), out);
        int step = Integer.parseInt(m.group(1));
        assertTrue(out.contains(model + " keeps its last complete checkpoint"), out);
        try (ai.djl.ttt.training.ModelDirectory.Loaded loaded =
                ai.djl.ttt.training.ModelDirectory.load(model, ai.djl.Device.cpu())) {
            assertEquals(step - 1, loaded.training().step);
            for (var p : loaded.lm().getParameters()) {
                for (float v : p.getValue().getArray().toFloatArray()) {
                    assertTrue(Float.isFinite(v), p.getKey() + " holds " + v);
                }
            }
        }
    }
}
