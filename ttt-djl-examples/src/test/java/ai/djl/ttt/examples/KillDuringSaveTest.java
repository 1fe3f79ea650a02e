package ai.djl.ttt.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.nn.Parameter;
import ai.djl.ttt.training.ModelDirectory;
import ai.djl.ttt.training.TrainingState;
import ai.djl.util.Pair;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Nothing lost: a training run killed ({@code kill -9}) in the middle of a checkpoint save resumes
 * from the last complete checkpoint and ends with the same parameters as a run that was never
 * interrupted.
 */
class KillDuringSaveTest {

    private static List<String> trainArgs(Path corpus, Path dir) {
        return CliTest.tinyTrain(
                corpus, dir, 6, "--validate-every", "3", "--checkpoint-every", "2", "--seed", "7");
    }

    @Test
    void killedDuringASaveResumesToTheSameParameters(@TempDir Path tmp) throws Exception {
        Path corpus = CliTest.corpus(tmp);
        Path straight = tmp.resolve("straight");
        CliTest.run(0, trainArgs(corpus, straight).toArray(String[]::new));

        // a child JVM that stops in the save of step 4, after the weights and the optimizer
        // state of step 4 are written and before training.json commits them; then kill -9
        Path killed = tmp.resolve("killed");
        HeldSave.Killed child = HeldSave.killWhileSaving(4, trainArgs(corpus, killed));
        assertEquals(137, child.exitValue(), child.log());
        // what the kill left: step 4 written but not committed, step 2 complete
        assertTrue(Files.isRegularFile(killed.resolve("ttt-lm-0004.params")));
        assertTrue(Files.isRegularFile(killed.resolve("optimizer-0004.npz")));
        assertTrue(Files.isRegularFile(killed.resolve("ttt-lm-0002.params")));
        assertTrue(Files.isRegularFile(killed.resolve("optimizer-0002.npz")));
        assertEquals(2, TrainingState.load(killed.resolve("training.json")).step);

        String resumed =
                CliTest.run(
                        0,
                        "train",
                        "--resume",
                        "--model-dir",
                        killed.toString(),
                        "--corpus",
                        corpus.toString(),
                        "--sample-tokens",
                        "0");
        assertTrue(resumed.contains("resuming " + killed + " at step 2"), resumed);
        try (var files = Files.list(killed)) {
            List<String> names = files.map(f -> f.getFileName().toString()).sorted().toList();
            assertTrue(names.contains("ttt-lm-0006.params"), names.toString());
            assertFalse(names.contains("ttt-lm-0004.params"), names.toString());
            assertFalse(names.stream().anyMatch(n -> n.startsWith(".")), names.toString());
        }

        try (ModelDirectory.Loaded a = ModelDirectory.load(straight, Device.cpu());
                ModelDirectory.Loaded b = ModelDirectory.load(killed, Device.cpu())) {
            assertEquals(6, b.training().step);
            List<Pair<String, Parameter>> pa = a.lm().getParameters().stream().toList();
            List<Pair<String, Parameter>> pb = b.lm().getParameters().stream().toList();
            assertEquals(pa.size(), pb.size());
            for (int i = 0; i < pa.size(); i++) {
                NDArray x = pa.get(i).getValue().getArray();
                NDArray y = pb.get(i).getValue().getArray();
                assertTrue(
                        Arrays.equals(x.toFloatArray(), y.toFloatArray()),
                        pa.get(i).getKey() + " differs after the resume");
            }
        }
    }
}
