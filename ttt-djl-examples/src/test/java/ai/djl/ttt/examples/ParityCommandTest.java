package ai.djl.ttt.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ParityCommandTest {

    private static final Path FIXTURES =
            Path.of("../ttt-djl-blocks/src/test/resources/ttt-reference");

    private static String[] run(int expectedStatus, String... args) {
        PrintStream saved = System.out;
        ByteArrayOutputStream buffer = new ByteArrayOutputStream();
        int status;
        try {
            System.setOut(new PrintStream(buffer, true, StandardCharsets.UTF_8));
            status = TttCli.run(args);
        } finally {
            System.setOut(saved);
        }
        String out = buffer.toString(StandardCharsets.UTF_8);
        assertEquals(expectedStatus, status, out);
        return out.split("\n");
    }

    @Test
    void layerCasesPass() {
        String out =
                String.join(
                        "\n",
                        run(
                                0,
                                "parity",
                                FIXTURES.resolve("ttt_linear_layer_T64").toString(),
                                FIXTURES.resolve("ttt_mlp_layer_T64").toString()));
        assertTrue(out.contains("ttt_mlp_layer_T64"), out);
        assertEquals(4, out.lines().filter(l -> l.endsWith(" ok")).count(), out);
        assertTrue(out.contains("PASS (tolerance 1.0e-05 float32, 1.0e-12 float64)"), out);
    }

    @Test
    void float16ModeHasItsOwnTolerance() {
        String layer = FIXTURES.resolve("ttt_linear_layer_T64").toString();
        String out = String.join("\n", run(0, "parity", "--dtype", "float16", layer));
        assertTrue(out.contains("PASS (tolerance 2.0e-03 float32 in float16 mode"), out);
        // float16 is not float32: its outputs miss float32's tolerance, held to it
        run(1, "parity", "--dtype", "float16", "--tolerance-f16", "1e-5", layer);
        run(2, "parity", "--dtype", "bfloat16", layer);
    }

    @Test
    void exitsNonZeroAboveTheTolerance() {
        String out =
                String.join(
                        "\n",
                        run(
                                1,
                                "parity",
                                "--tolerance",
                                "1e-12",
                                FIXTURES.resolve("ttt_linear_layer_T64").toString()));
        assertTrue(out.contains("ABOVE TOLERANCE"), out);
    }

    @Test
    void aMissingFolderIsAnErrorNamingItAndWhatWasExpected(@TempDir Path tmp) throws Exception {
        String good = FIXTURES.resolve("ttt_mlp_layer_T64").toString();
        String out = CliTest.run(2, "parity", good, "no/such/case");
        assertEquals(
                "error: CASE_DIR no/such/case: no such folder (expected a reference case folder"
                        + " with config.json and tensors.safetensors or tensors.npz, written from"
                        + " the official code as docs/official-checkpoints.md shows)",
                out.strip(),
                "a usage error, before any case runs");
        Path file = Files.writeString(tmp.resolve("case.txt"), "not a case");
        assertTrue(
                CliTest.run(2, "parity", file.toString())
                        .startsWith("error: CASE_DIR " + file + ": not a folder (expected a"),
                file.toString());
        // a folder that is there but holds no case: reported, and the other cases still run
        Path empty = Files.createDirectories(tmp.resolve("empty"));
        String partial = String.join("\n", run(2, "parity", empty.toString(), good));
        assertTrue(
                partial.contains(
                        "empty                    not checked: no config.json in "
                                + empty
                                + " (expected a reference case folder with config.json"),
                partial);
        assertEquals(2, partial.lines().filter(l -> l.endsWith(" ok")).count(), partial);
    }

    @Test
    void float64OutputsHaveTheirOwnTolerance() {
        String out =
                String.join(
                        "\n",
                        run(
                                1,
                                "parity",
                                "--tolerance-f64",
                                "1e-16",
                                FIXTURES.resolve("ttt_linear_layer_T64").toString()));
        assertTrue(out.lines().anyMatch(l -> l.contains(" output ") && l.endsWith(" ok")), out);
        assertTrue(
                out.lines()
                        .anyMatch(l -> l.contains(" output_f64 ") && l.endsWith("ABOVE TOLERANCE")),
                out);
    }

    @Test
    void aBrokenCaseIsReportedAndTheOthersStillRun(@TempDir Path tmp) throws Exception {
        Path source = FIXTURES.resolve("ttt_linear_layer_T64");
        Path broken = tmp.resolve("broken");
        Files.createDirectories(broken);
        Files.copy(source.resolve("tensors.npz"), broken.resolve("tensors.npz"));
        JsonObject config =
                JsonParser.parseString(Files.readString(source.resolve("config.json")))
                        .getAsJsonObject();
        JsonObject kind = new JsonObject();
        kind.addProperty("kind", "output");
        config.getAsJsonObject("tensors").add("output_gated", kind);
        Files.writeString(broken.resolve("config.json"), config.toString());
        String out =
                String.join(
                        "\n",
                        run(
                                2,
                                "parity",
                                broken.toString(),
                                FIXTURES.resolve("ttt_mlp_layer_T64").toString()));
        assertTrue(out.contains("lists output 'output_gated' that tensors.npz lacks"), out);
        assertEquals(2, out.lines().filter(l -> l.endsWith(" ok")).count(), out);
        assertTrue(out.contains("INCOMPLETE"), out);
    }

    @Test
    void badTolerancesAreRejected() {
        String err = CliTest.run(2, "parity", "--tolerance", "-1", "x");
        assertTrue(err.contains("--tolerance must be a number > 0, got -1"), err);
    }
}
