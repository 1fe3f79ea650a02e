package ai.djl.ttt.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.djl.ttt.config.LayerType;
import ai.djl.ttt.config.TttConfig;
import ai.djl.ttt.nn.TttLayer;
import java.awt.image.BufferedImage;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The benchmark runs end to end on its smoke-test setting; its timings are not checked. */
class SpeedBenchTest {

    @Test
    void quickBenchmarkWritesTheReportAndPlots(@TempDir Path dir) throws Exception {
        Path report = dir.resolve("benchmarks.md");
        Files.writeString(report, "# hand-written intro\n\n" + SpeedBench.GENERATED + "\nold\n");
        String out = CliTest.run(0, "bench", "speed", "--quick", "--out", report.toString());
        for (String section :
                new String[] {
                    "GFLOP/s",
                    "## Layer forward (prefill",
                    "## Layer forward + backward",
                    "primal / dual",
                    "## Whole model forward",
                    "## Whole model decode",
                    "crossover",
                    "tokens/s at batch 1"
                }) {
            assertTrue(out.contains(section), "missing '" + section + "' in\n" + out);
        }
        String md = Files.readString(report, StandardCharsets.UTF_8);
        assertTrue(md.startsWith("# hand-written intro"), "the text above the marker is kept");
        assertTrue(!md.contains("\nold\n"), "the text below the marker is replaced");
        assertTrue(md.contains("| TTT-Linear | dual |"), md);
        for (String png : new String[] {"bench-prefill.png", "bench-decode.png"}) {
            BufferedImage image = ImageIO.read(dir.resolve("img").resolve(png).toFile());
            assertNotNull(image, png);
            assertEquals(720, image.getWidth());
        }
    }

    @Test
    void peakMemoryOfACaseIsMeasuredInAFreshJvm() throws Exception {
        // the tiny model over 16384 tokens: its logits alone are 16384 × 256 floats = 16 MiB
        double peak = PeakMemory.inFreshJvm("model:LINEAR:16384", true, 1);
        assumeTrue(!Double.isNaN(peak), "this kernel does not let a process reset its VmHWM");
        assertTrue(
                peak >= 16 && peak < 4096, "the tiny model's forward over 16384 tokens: " + peak);
    }

    @Test
    void aBadMemoryCaseFailsWithTheChildsMessage() {
        IllegalStateException e =
                assertThrows(
                        IllegalStateException.class,
                        () -> PeakMemory.inFreshJvm("forward:LINEAR", true, 1));
        assertTrue(e.getMessage().contains("expected KIND:LAYER:ARG"), e.getMessage());
        assertTrue(e.getMessage().contains("exit 2"), e.getMessage());
    }

    @Test
    void flopCountOfThe125mLinearLayerMatchesTheDocumentedFigure() {
        TttConfig config =
                TttConfig.builder().preset("125m").setLayerType(LayerType.LINEAR).build();
        // docs/benchmarks.md: 9.66 (projections) + 0.04 (learning rate) + 0.70 (inner) GFLOP
        assertEquals(10.4e9, TttLayer.fromConfig(config).forwardFlops(2048), 0.01e9);
        TttConfig mlp = config.toBuilder().setLayerType(LayerType.MLP).build();
        assertEquals(15.84e9, TttLayer.fromConfig(mlp).forwardFlops(2048), 0.01e9);
    }
}
