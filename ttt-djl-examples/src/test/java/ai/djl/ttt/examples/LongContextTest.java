package ai.djl.ttt.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The long-context study runs end to end on its smoke-test setting (every contender at two rates,
 * the state-size and TTT-MLP runs, both LM trainings) and writes its report; a second run reuses
 * every finished job; jobs also run in worker processes. The accuracies themselves are not checked.
 */
class LongContextTest {

    @Test
    void quickStudyWritesTheReportAndReusesFinishedJobs(@TempDir Path dir) throws Exception {
        Path report = dir.resolve("long-context.md");
        Path work = dir.resolve("work");
        Files.writeString(
                report, "# hand-written intro\n\n" + LongContextCommand.GENERATED + "\nold\n");
        String[] args = {
            "long-context",
            "--quick",
            "--parallel",
            "1",
            "--out",
            report.toString(),
            "--work-dir",
            work.toString()
        };
        String out = CliTest.run(0, args);
        assertTrue(out.contains("[recall:mlp:mamba lr 1e-02] running"), out);
        assertTrue(out.contains("[lm:attention:transformer] running"), out);
        assertFalse(out.contains("reusing"), out);

        String md = Files.readString(report, StandardCharsets.UTF_8);
        assertTrue(md.startsWith("# hand-written intro"), "the text above the marker is kept");
        assertFalse(md.contains("\nold\n"), "the text below the marker is replaced");
        for (String row :
                new String[] {
                    "| attention (transformer) |",
                    "| attention (pre-conv) |",
                    "| linear attention (pre-conv) |",
                    "| TTT-Linear (mamba) |",
                    "| TTT-MLP (mamba) |",
                    "| contender | parameters | decode state (floats) | validation at 3e-3 |"
                            + " validation at 1e-2 | chosen rate | steps | training s | final"
                            + " loss |",
                    "| contender | rate | 32 | 64 |",
                    "| contender | rate | 2 | 4 |",
                    "| contender | heads | decode state (floats) | 2 pairs | 4 pairs |",
                    "| TTT-MLP (mamba) | 1.0 | 4f | 4 |",
                    "| TTT-MLP (mamba) | 0.1 | 1f | 4 |",
                    "| positions | TTT-Linear (mamba) | attention (transformer) |",
                    "| 48–63 |"
                }) {
            assertTrue(md.contains(row), "missing '" + row + "' in\n" + md);
        }
        Matcher percent = Pattern.compile("\\| \\**(\\d+\\.\\d) %\\** \\|").matcher(md);
        int cells = 0;
        while (percent.find()) {
            double value = Double.parseDouble(percent.group(1));
            assertTrue(value >= 0 && value <= 100, percent.group());
            cells++;
        }
        assertTrue(cells >= 30, cells + " accuracy cells in\n" + md);
        assertTrue(
                Pattern.compile("\\| 0–15 \\| \\d+\\.\\d{3} ± \\d+\\.\\d{3} \\|")
                        .matcher(md)
                        .find(),
                "loss by position with its interval in\n" + md);
        for (String png :
                new String[] {
                    "recall-length.png",
                    "recall-pairs.png",
                    "recall-state-2.png",
                    "recall-state-4.png",
                    "position-loss.png"
                }) {
            BufferedImage image = ImageIO.read(dir.resolve("img").resolve(png).toFile());
            assertNotNull(image, png);
            assertEquals(720, image.getWidth());
        }

        // the same study again: every job's result is read back, nothing trains
        String again = CliTest.run(0, args);
        assertFalse(again.contains("] running"), again);
        assertEquals(10 + 3 + 2 + 2, again.split("reusing ", -1).length - 1, again);
        String md2 = Files.readString(report, StandardCharsets.UTF_8);
        assertEquals(withoutRunLine(md), withoutRunLine(md2));
    }

    private static String withoutRunLine(String md) {
        return md.replaceAll("Run on .*\\n", "");
    }

    @Test
    void jobsRunInWorkerProcesses(@TempDir Path dir) {
        String out =
                CliTest.run(
                        0,
                        "long-context",
                        "--quick",
                        "--contenders",
                        "linear:mamba",
                        "--lrs",
                        "1e-2",
                        "--lm-steps",
                        "0",
                        "--parallel",
                        "2",
                        "--out",
                        dir.resolve("lc.md").toString(),
                        "--work-dir",
                        dir.resolve("work").toString());
        assertTrue(out.contains("[recall:linear:mamba lr 1e-02] trained in"), out);
        assertTrue(out.contains("[recall:linear:mamba lr 1e-02 heads 2] trained in"), out);
    }

    @Test
    void badSettingsAreRejected(@TempDir Path dir) {
        String x = dir.resolve("x.md").toString();
        String out =
                CliTest.run(2, "long-context", "--lm-context", "100", "--lm-bins", "3", "--out", x);
        assertTrue(out.contains("--lm-bins must divide --lm-context"), out);
        out = CliTest.run(2, "long-context", "--quick", "--full", "--out", x);
        assertTrue(out.contains("--quick and --full exclude each other"), out);
        out = CliTest.run(2, "long-context", "--state-heads", "3", "--out", x);
        assertTrue(out.contains("--state-heads must divide the scaffold's width 64, got 3"), out);
        out = CliTest.run(2, "long-context", "--state-contenders", "attention:conv", "--out", x);
        assertTrue(out.contains("--state-contenders must be fixed-state contenders"), out);
        out = CliTest.run(2, "long-context", "--stall-contenders", "linear:mamba", "--out", x);
        assertTrue(out.contains("--stall-contenders must be TTT-MLP contenders"), out);
        out = CliTest.run(2, "long-context", "--lrs", "-1", "--out", x);
        assertTrue(out.contains("--lrs must be a number > 0, got -1"), out);
        assertFalse(Files.exists(dir.resolve("x.md")));
    }

    @Test
    void recallJobKeysRoundTrip() {
        RecallJob job = new RecallJob("mlp:mamba", 3e-3f, 16, 1500, 1.0, 1);
        assertEquals(job, RecallJob.parse(job.key()));
        assertFalse(job.isSweep());
        assertTrue(RecallJob.sweep("attention:conv", 1e-2f, 10).isSweep());
        assertTrue(job.fileName().matches("[A-Za-z0-9._-]+"), job.fileName());
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> RecallJob.parse("mlp:mamba"));
        assertTrue(e.getMessage().contains("got 'mlp:mamba'"), e.getMessage());
    }

    @Test
    void theSweepKeepsTheBestValidationAndTheLowerRateOnATie() {
        LongContextStudy.RecallRun low = run(1e-3f, 0.5);
        LongContextStudy.RecallRun mid = run(3e-3f, 0.9);
        LongContextStudy.RecallRun high = run(1e-2f, 0.9);
        assertEquals(mid, LongContextCommand.best(List.of(low, high, mid)));
        assertEquals(low, LongContextCommand.best(List.of(low, run(1e-2f, 0.5))));
    }

    private static LongContextStudy.RecallRun run(float lr, double validation) {
        return new LongContextStudy.RecallRun(
                RecallJob.sweep("linear:mamba", lr, 10).key(),
                "TTT-Linear (mamba)",
                1,
                1,
                1,
                1,
                validation,
                new double[0],
                "");
    }
}
