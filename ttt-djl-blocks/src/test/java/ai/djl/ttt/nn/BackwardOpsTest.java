package ai.djl.ttt.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.ttt.config.TttConfig;
import com.google.gson.JsonElement;
import com.google.gson.JsonParser;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The backward pass of the scan stays linear in the sequence length: no autograd node whose cost
 * grows with the sequence may run once per mini-batch. Taking mini-batch {@code m} of a hoisted
 * {@code (n, N, ·, ·)} array with {@code get(m)} did that: each select's backward zero-fills a copy
 * of the whole array, so a backward over {@code n} mini-batches wrote {@code n²} of them (6 s of a
 * TTT-MLP forward + backward at T = 2048). Counted with libtorch's profiler, not timed.
 */
class BackwardOpsTest {

    @Test
    void noSelectBackwardPerMiniBatch(@TempDir Path dir) throws Exception {
        for (TttConfig config : TestLayers.smallConfigs()) {
            Map<String, Integer> four = backwardOps(config, 64, dir.resolve("four.json"));
            Map<String, Integer> eight = backwardOps(config, 128, dir.resolve("eight.json"));
            assertTrue(
                    eight.getOrDefault("MmBackward0", 0) + eight.getOrDefault("BmmBackward0", 0)
                            > four.getOrDefault("MmBackward0", 0)
                                    + four.getOrDefault("BmmBackward0", 0),
                    "the profile shows the inner loop's products: " + eight);
            for (String op : new String[] {"SelectBackward0", "IndexBackward0"}) {
                assertEquals(
                        four.getOrDefault(op, 0),
                        eight.getOrDefault(op, 0),
                        PrefillDecodeTest.describe(config)
                                + ": "
                                + op
                                + " runs once per mini-batch (4 vs 8 mini-batches)");
            }
        }
    }

    /** Autograd node names and counts of one forward + backward over {@code length} tokens. */
    private static Map<String, Integer> backwardOps(TttConfig config, int length, Path trace)
            throws Exception {
        try (NDManager manager = NDManager.newBaseManager()) {
            TttLayer layer = TestLayers.layer(config, manager, DataType.FLOAT32, 4);
            NDArray x = TestLayers.input(manager, 1, length, 32, 6, DataType.FLOAT32);
            ParameterStore ps = new ParameterStore(manager, false);
            JniUtils.startProfile(false, false, false);
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                NDArray y = layer.forward(ps, new NDList(x), true).head();
                gc.backward(y.mean());
            } finally {
                JniUtils.stopProfile(trace.toString());
            }
        }
        Map<String, Integer> counts = new HashMap<>();
        try (Reader reader = Files.newBufferedReader(trace)) {
            JsonElement root = JsonParser.parseReader(reader);
            var events =
                    root.isJsonArray()
                            ? root.getAsJsonArray()
                            : root.getAsJsonObject().getAsJsonArray("traceEvents");
            for (JsonElement e : events) {
                if (e.isJsonObject() && e.getAsJsonObject().has("name")) {
                    // "autograd::engine::evaluate_function: MmBackward0" or "MmBackward0"
                    String full = e.getAsJsonObject().get("name").getAsString();
                    String name = full.substring(full.lastIndexOf(' ') + 1);
                    if (name.endsWith("Backward0") || name.endsWith("Backward1")) {
                        counts.merge(name, 1, Integer::sum);
                    }
                }
            }
        }
        return counts;
    }
}
