package ai.djl.ttt.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The long-context experiment runs end to end on its smoke-test setting (every contender, both
 * parts, worker processes) and writes its report; the accuracies themselves are not checked.
 */
class LongContextTest {

    @Test
    void quickSweepWritesTheReportAndPlots(@TempDir Path dir) throws Exception {
        Path report = dir.resolve("long-context.md");
        Files.writeString(
                report, "# hand-written intro\n\n" + LongContextCommand.GENERATED + "\nold\n");
        String out = CliTest.run(0, "long-context", "--quick", "--out", report.toString());
        assertTrue(out.contains("[recall:mlp:mamba] trained in"), out);
        assertTrue(out.contains("[lm:attention:transformer]"), out);

        String md = Files.readString(report, StandardCharsets.UTF_8);
        assertTrue(md.startsWith("# hand-written intro"), "the text above the marker is kept");
        assertFalse(md.contains("\nold\n"), "the text below the marker is replaced");
        for (String row :
                new String[] {
                    "| attention (transformer) |",
                    "| linear attention (mamba) |",
                    "| TTT-Linear (transformer) |",
                    "| TTT-Linear (mamba) |",
                    "| TTT-MLP (transformer) |",
                    "| TTT-MLP (mamba) |",
                    "| contender | parameters | training s | 32 | 64 |",
                    "| contender | parameters | training s | 2 | 4 |",
                    "| positions | TTT-Linear (mamba) | attention (transformer) |",
                    "| 48–63 |"
                }) {
            assertTrue(md.contains(row), "missing '" + row + "' in\n" + md);
        }
        Matcher percent = Pattern.compile("\\| (\\d+\\.\\d) % \\|").matcher(md);
        int cells = 0;
        while (percent.find()) {
            double value = Double.parseDouble(percent.group(1));
            assertTrue(value >= 0 && value <= 100, percent.group());
            cells++;
        }
        assertTrue(cells >= 6, "accuracy cells in\n" + md);
        for (String png :
                new String[] {"recall-length.png", "recall-pairs.png", "position-loss.png"}) {
            BufferedImage image = ImageIO.read(dir.resolve("img").resolve(png).toFile());
            assertNotNull(image, png);
            assertEquals(720, image.getWidth());
        }
    }

    @Test
    void badSettingsAreRejected(@TempDir Path dir) {
        String out =
                CliTest.run(
                        2,
                        "long-context",
                        "--lm-context",
                        "100",
                        "--lm-bins",
                        "3",
                        "--out",
                        dir.resolve("x.md").toString());
        assertTrue(out.contains("--lm-bins must divide --lm-context"), out);
        assertFalse(Files.exists(dir.resolve("x.md")));
    }
}
