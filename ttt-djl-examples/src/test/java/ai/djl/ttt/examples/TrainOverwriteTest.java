package ai.djl.ttt.examples;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ttt.training.ModelDirectory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code ttt train --overwrite} never loses the previous model: every input is checked before the
 * folder is touched, the new run trains beside it and replaces it only with a complete checkpoint,
 * and only the files ttt-djl writes are replaced.
 */
class TrainOverwriteTest {

    private static List<String> train(Path corpus, Path dir, int steps, String... more) {
        List<String> args =
                CliTest.tinyTrain(
                        corpus, dir, steps, "--validate-every", "2", "--checkpoint-every", "2");
        args.addAll(List.of(more));
        return args;
    }

    /** Every file under a folder (relative name) with its bytes. */
    private static Map<String, byte[]> snapshot(Path dir) throws Exception {
        Map<String, byte[]> files = new TreeMap<>();
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path f : walk.filter(Files::isRegularFile).toList()) {
                files.put(dir.relativize(f).toString(), Files.readAllBytes(f));
            }
        }
        return files;
    }

    private static void assertSame(Map<String, byte[]> expected, Path dir, String what)
            throws Exception {
        Map<String, byte[]> now = snapshot(dir);
        assertEquals(expected.keySet(), now.keySet(), what);
        for (String name : expected.keySet()) {
            assertArrayEquals(expected.get(name), now.get(name), what + ": " + name);
        }
        try (ModelDirectory.Loaded loaded = ModelDirectory.load(dir, Device.cpu())) {
            assertEquals(2, loaded.training().step, what);
        }
    }

    /** Runs the CLI, checking that it fails, and returns its output. */
    private static String failing(List<String> args) {
        CliTest.Captured run = CliTest.captured(TttCli::run, args.toArray(String[]::new));
        assertNotEquals(0, run.status(), run.out());
        return run.out();
    }

    private static List<String> siblings(Path dir) throws Exception {
        try (Stream<Path> list = Files.list(dir.getParent())) {
            return list.map(p -> p.getFileName().toString())
                    .filter(n -> n.contains(dir.getFileName() + ".overwrite"))
                    .toList();
        }
    }

    @Test
    void aFailedOverwriteLeavesThePreviousModelAsItWas(@TempDir Path tmp) throws Exception {
        Path corpus = CliTest.corpus(tmp);
        Path model = tmp.resolve("model");
        CliTest.run(0, train(corpus, model, 2).toArray(String[]::new));
        // other files in the folder: another tool's
        Files.createDirectories(model.resolve(".staging-backup"));
        Files.writeString(model.resolve(".staging-backup/keep.txt"), "keep");
        Files.writeString(model.resolve("notes.txt"), "mine");
        Map<String, byte[]> before = snapshot(model);

        Path empty = Files.writeString(tmp.resolve("empty.txt"), "");
        Path small = Files.writeString(tmp.resolve("small.txt"), "the state learns.\n");
        Path badTokenizer = Files.writeString(tmp.resolve("tokenizer.json"), "{\"model\": ");
        String[][] failures = {
            {"an empty corpus", "0 windows of 16 tokens"},
            {"a corpus too short", "windows of 16 tokens, fewer than one batch"},
            {"a corrupt tokenizer", "tokenizer"},
            {"a bad model setting", "--layer must be one of"},
            {"an absent device", "--device"},
        };
        List<List<String>> runs =
                List.of(
                        train(empty, model, 2, "--overwrite"),
                        train(small, model, 2, "--overwrite"),
                        train(
                                corpus,
                                model,
                                2,
                                "--overwrite",
                                "--tokenizer",
                                badTokenizer.toString()),
                        train(corpus, model, 2, "--overwrite", "--layer", "transformer"),
                        train(corpus, model, 2, "--overwrite", "--device", "gpu:7"));
        for (int i = 0; i < runs.size(); i++) {
            String out = failing(runs.get(i));
            assertTrue(out.contains(failures[i][1]), failures[i][0] + ": " + out);
            assertSame(before, model, failures[i][0]);
            assertEquals(List.of(), siblings(model), failures[i][0]);
        }

        // killed in the middle of the new run (at its checkpoint of step 2): the old model stays
        HeldSave.killWhileSaving(2, train(corpus, model, 4, "--overwrite"));
        assertSame(before, model, "killed during the new run");

        // a run that succeeds replaces the model and keeps the other files; a link among the
        // model's names is deleted, never followed
        Path precious = Files.createDirectories(tmp.resolve("precious"));
        Files.writeString(precious.resolve("keep.txt"), "outside");
        Files.createSymbolicLink(model.resolve("tokenizer.json"), precious);
        CliTest.run(0, train(corpus, model, 4, "--overwrite").toArray(String[]::new));
        assertEquals("outside", Files.readString(precious.resolve("keep.txt")));
        assertTrue(Files.isRegularFile(model.resolve("ttt-lm-0004.params")));
        assertFalse(Files.exists(model.resolve("ttt-lm-0002.params")));
        assertEquals("keep", Files.readString(model.resolve(".staging-backup/keep.txt")));
        assertEquals("mine", Files.readString(model.resolve("notes.txt")));
        try (ModelDirectory.Loaded loaded = ModelDirectory.load(model, Device.cpu())) {
            assertEquals(4, loaded.training().step);
        }
        try (Stream<Path> files = Files.list(model)) {
            List<String> names = files.map(f -> f.getFileName().toString()).sorted().toList();
            assertEquals(
                    List.of(
                            ".staging-backup",
                            "config.json",
                            "notes.txt",
                            "optimizer-0004.npz",
                            "serving.properties",
                            "tokenizer.txt",
                            "training.json",
                            "ttt-lm-0004.params"),
                    names);
        }
    }

    @Test
    void anotherToolsFilesAreNeverReplaced(@TempDir Path tmp) throws Exception {
        Path corpus = CliTest.corpus(tmp);
        Path dir = tmp.resolve("shared");
        Files.createDirectories(dir);
        Files.writeString(
                dir.resolve("config.json"),
                "{\"architectures\": [\"BertModel\"], \"model_type\": \"bert\"}");
        Files.writeString(dir.resolve("serving.properties"), "engine=Python\n");
        Map<String, byte[]> before = snapshot(dir);
        String out = failing(train(corpus, dir, 2, "--overwrite"));
        assertTrue(
                out.contains(
                        "--overwrite replaces only the files ttt-djl wrote, but --model-dir "
                                + dir
                                + " holds config.json (not a ttt-djl model config: model_type \"bert\"),"
                                + " serving.properties (it names no ttt-djl block factory): move"
                                + " them away or choose another --model-dir"),
                out);
        assertEquals(before.keySet(), snapshot(dir).keySet());
        assertEquals("engine=Python\n", Files.readString(dir.resolve("serving.properties")));
    }
}
