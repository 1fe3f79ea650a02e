package ai.djl.ttt.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

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
        assertTrue(out.contains("PASS (tolerance 1.0e-05)"), out);
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
    void missingFolderIsReported() {
        String out = String.join("\n", run(2, "parity", "no/such/case"));
        assertTrue(out.contains("not checked: no config.json in no/such/case"), out);
    }
}
