package ai.djl.ttt.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Official figures from a JSON file: read as written, and clear errors on a malformed file. */
class OfficialFiguresTest {

    @Test
    void readsTheFiguresOfTheFile(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("official.json");
        Files.writeString(
                file,
                "{\"source\": \"same machine\", \"forward\": {\"linear\": {\"512\": 112.5,"
                        + " \"2048\": 460}}, \"forwardBackward\": {\"mlp\": 2890},"
                        + " \"decode\": {\"linear\": 65.4}}");
        OfficialFigures f = OfficialFigures.read(file);
        assertEquals("same machine", f.source());
        assertEquals(112.5, f.forward("linear", 512));
        assertEquals(460, f.forward("linear", 2048));
        assertTrue(Double.isNaN(f.forward("linear", 1024)), "a missing length");
        assertTrue(Double.isNaN(f.forward("mlp", 512)), "a missing layer");
        assertEquals(2890, f.forwardBackward("mlp"));
        assertTrue(Double.isNaN(f.forwardBackward("linear")));
        assertEquals(65.4, f.decode("linear"));
    }

    @Test
    void theDefaultFiguresAreThoseOfBenchmarksMd() throws Exception {
        OfficialFigures f = OfficialFigures.measuredElsewhere();
        assertEquals(176, f.forward("linear", 2048));
        assertEquals(831, f.forward("mlp", 4096));
        assertEquals(1217, f.forwardBackward("linear"));
        assertEquals(104, f.decode("mlp"));
        // the page's table lists exactly these
        String page = Files.readString(Path.of("../docs/benchmarks.md"));
        for (String[] row : new String[][] {{"TTT-Linear", "linear"}, {"TTT-MLP", "mlp"}}) {
            String expected =
                    String.format(
                            Locale.ROOT,
                            "| %s | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f |",
                            row[0],
                            f.forward(row[1], 512),
                            f.forward(row[1], 1024),
                            f.forward(row[1], 2048),
                            f.forward(row[1], 4096),
                            f.forwardBackward(row[1]),
                            f.decode(row[1]));
            assertTrue(page.contains(expected + "\n"), expected + " is not in docs/benchmarks.md");
        }
    }

    @Test
    void malformedFilesAreRejectedWithTheReason(@TempDir Path dir) throws Exception {
        String[][] cases = {
            {"{\"source\": \"x\", \"fwd\": {}}", "unknown key \"fwd\""},
            {"{\"forward\": {}}", "\"source\""},
            {"{\"source\": \"x\", \"decode\": {\"rnn\": 3}}", "unknown key \"rnn\""},
            {"{\"source\": \"x\", \"decode\": {\"mlp\": -3}}", "decode.mlp"},
            {"{\"source\": \"x\", \"decode\": {\"mlp\": \"fast\"}}", "positive number"},
            {"{\"source\": \"x\", \"forward\": {\"mlp\": {\"long\": 3}}}", "\"long\""},
            {"[1, 2]", "expected a JSON object"},
            {"{\"source\": ", "not valid JSON"}
        };
        for (String[] c : cases) {
            Path file = dir.resolve("bad.json");
            Files.writeString(file, c[0]);
            IllegalArgumentException e =
                    assertThrows(IllegalArgumentException.class, () -> OfficialFigures.read(file));
            assertTrue(
                    e.getMessage().contains(c[1]),
                    c[0] + ": expected the message to name " + c[1] + ", got " + e.getMessage());
        }
    }
}
