package ai.djl.ttt.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The parity check must be able to fail: each way a case can be wrong (no outputs, a missing
 * output, a float64 error above float64 rounding, a perturbed output, positions it does not run,
 * two tensor files that disagree) is reported, never passed.
 */
class ParityCheckCanFailTest {

    private static final Path LAYER = OfficialParityTest.fixture("ttt_linear_layer_T64");

    /** A copy of the layer case: its config edited, its npz rewritten with one tensor changed. */
    private static Path copyCase(
            Path dir,
            NDManager manager,
            Function<JsonObject, JsonObject> editConfig,
            String tensor,
            Function<NDArray, NDArray> editTensor)
            throws Exception {
        Files.createDirectories(dir);
        JsonObject config =
                JsonParser.parseString(
                                Files.readString(
                                        LAYER.resolve("config.json"), StandardCharsets.UTF_8))
                        .getAsJsonObject();
        Files.writeString(
                dir.resolve("config.json"),
                editConfig.apply(config).toString(),
                StandardCharsets.UTF_8);
        writeNpz(dir.resolve("tensors.npz"), manager, tensor, editTensor);
        return dir;
    }

    private static void writeNpz(
            Path file, NDManager manager, String tensor, Function<NDArray, NDArray> edit)
            throws Exception {
        try (NDManager sub = manager.newSubManager();
                StateDict original = StateDict.load(sub, LAYER.resolve("tensors.npz"))) {
            NDList list = new NDList();
            for (String name : original.names()) {
                NDArray array = original.get(name);
                if (name.equals(tensor)) {
                    array = edit.apply(array);
                }
                array.setName(name);
                list.add(array);
            }
            try (OutputStream os = Files.newOutputStream(file)) {
                list.encode(os, NDList.Encoding.NPZ);
            }
        }
    }

    private static List<ParityCheck.Result> check(NDManager manager, Path dir) throws Exception {
        try (ReferenceCase c = ReferenceCase.load(manager, dir)) {
            return ParityCheck.run(manager, c);
        }
    }

    /** The message of the IllegalArgumentException that checking a case folder throws. */
    private static String refusal(NDManager manager, Path dir) {
        return assertThrows(IllegalArgumentException.class, () -> check(manager, dir)).getMessage();
    }

    private static ParityCheck.Result result(List<ParityCheck.Result> results, String output) {
        return results.stream().filter(r -> r.output().equals(output)).findFirst().orElseThrow();
    }

    @Test
    void theUnchangedCasePassesWithBothTolerances(@TempDir Path tmp) throws Exception {
        try (NDManager manager = NDManager.newBaseManager()) {
            List<ParityCheck.Result> results =
                    check(manager, copyCase(tmp, manager, c -> c, "", a -> a));
            assertEquals(2, results.size());
            assertEquals(DataType.FLOAT32, result(results, "output").type());
            assertEquals(DataType.FLOAT64, result(results, "output_f64").type());
            for (ParityCheck.Result r : results) {
                assertTrue(
                        r.within(ParityCheck.DEFAULT_TOLERANCE, ParityCheck.DEFAULT_TOLERANCE_F64),
                        r.toString());
            }
        }
    }

    @Test
    void aCaseWithoutOutputsIsAnError(@TempDir Path tmp) throws Exception {
        try (NDManager manager = NDManager.newBaseManager()) {
            Path dir =
                    copyCase(
                            tmp,
                            manager,
                            c -> {
                                JsonObject tensors = c.getAsJsonObject("tensors");
                                for (String name : List.of("output", "output_f64")) {
                                    tensors.getAsJsonObject(name).addProperty("kind", "input");
                                }
                                return c;
                            },
                            "",
                            a -> a);
            String message = refusal(manager, dir);
            assertTrue(message.contains("lists no outputs"), message);
        }
    }

    @Test
    void aListedOutputMissingFromTheTensorsIsNamed(@TempDir Path tmp) throws Exception {
        try (NDManager manager = NDManager.newBaseManager()) {
            Path dir =
                    copyCase(
                            tmp,
                            manager,
                            c -> {
                                JsonObject kind = new JsonObject();
                                kind.addProperty("kind", "output");
                                c.getAsJsonObject("tensors").add("output_gated", kind);
                                return c;
                            },
                            "",
                            a -> a);
            String message = refusal(manager, dir);
            assertTrue(
                    message.contains("lists output 'output_gated' that tensors.npz lacks"),
                    message);
        }
    }

    @Test
    void aPerturbedFloat32OutputFails(@TempDir Path tmp) throws Exception {
        try (NDManager manager = NDManager.newBaseManager()) {
            Path dir = copyCase(tmp, manager, c -> c, "output", a -> a.mul(1 + 1e-3));
            ParityCheck.Result r = result(check(manager, dir), "output");
            assertEquals(1e-3, r.relativeError(), 1e-4);
            assertFalse(r.within(ParityCheck.DEFAULT_TOLERANCE, ParityCheck.DEFAULT_TOLERANCE_F64));
        }
    }

    @Test
    void float64IsHeldToItsOwnTolerance(@TempDir Path tmp) throws Exception {
        try (NDManager manager = NDManager.newBaseManager()) {
            // 1e-9 is far above float64 rounding (1e-15) but would pass float32's 1e-5
            Path dir = copyCase(tmp, manager, c -> c, "output_f64", a -> a.mul(1 + 1e-9));
            ParityCheck.Result r = result(check(manager, dir), "output_f64");
            assertEquals(DataType.FLOAT64, r.type());
            assertTrue(r.relativeError() > 5e-10 && r.relativeError() < 2e-9, r.toString());
            assertFalse(r.within(ParityCheck.DEFAULT_TOLERANCE, ParityCheck.DEFAULT_TOLERANCE_F64));
        }
    }

    @Test
    void positionIdsAreRead(@TempDir Path tmp) throws Exception {
        try (NDManager manager = NDManager.newBaseManager()) {
            // a whole mini-batch later: the same RoPE positions and split, so the same output
            Path shifted =
                    copyCase(
                            tmp.resolve("shifted"),
                            manager,
                            c -> c,
                            "position_ids",
                            a -> a.add(16));
            for (ParityCheck.Result r : check(manager, shifted)) {
                assertTrue(
                        r.within(ParityCheck.DEFAULT_TOLERANCE, ParityCheck.DEFAULT_TOLERANCE_F64),
                        r.toString());
            }
            // one token later: RoPE positions our run does not use; reported, not ignored
            Path off = copyCase(tmp.resolve("off"), manager, c -> c, "position_ids", a -> a.add(1));
            String message = refusal(manager, off);
            assertTrue(
                    message.startsWith("position_ids row 0 puts token 0 at position 1"), message);
        }
    }

    @Test
    void bothTensorFilesAreCheckedWhenBothExist(@TempDir Path tmp) throws Exception {
        try (NDManager manager = NDManager.newBaseManager()) {
            Path dir = copyCase(tmp, manager, c -> c, "output", a -> a.mul(1 + 1e-3));
            Files.copy(LAYER.resolve("tensors.safetensors"), dir.resolve("tensors.safetensors"));
            String message = refusal(manager, dir);
            assertTrue(message.contains("and tensors.npz differ at tensor 'output'"), message);
            // the fixtures' own pair agrees
            try (ReferenceCase c = ReferenceCase.load(manager, LAYER)) {
                assertEquals(2, c.getTensorFiles().size());
            }
        }
    }
}
