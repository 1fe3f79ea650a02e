package ai.djl.ttt.examples;

import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * The short version of {@code ttt soak} (seconds): every phase runs, and threads sharing one
 * ZooModel give the single-thread results. The full soak (20,000 decode steps, 2,000 training
 * steps, 8 threads for 10 minutes) is {@code ./bin/ttt soak}, outside the default build; its
 * figures are in docs/reliability.md.
 */
class SoakCommandTest {

    @Test
    void shortSoakRunsEveryPhaseAndThreadsAgreeWithOneThread() {
        String out =
                CliTest.run(
                        0,
                        "soak",
                        "--decode-steps",
                        "100",
                        "--train-steps",
                        "20",
                        "--workers",
                        "4",
                        "--seconds",
                        "2",
                        // a few steps cannot show a trend: the bound here only catches a gross leak
                        "--rss-bound-mib",
                        "256");
        assertTrue(out.contains("| decode | 100 tokens, one sequence |"), out);
        assertTrue(out.contains("| train | 20 steps of 4 x 64 tokens"), out);
        assertTrue(out.contains(" 0 differ from one thread's |"), out);
        assertTrue(out.strip().endsWith("PASS"), out);
    }
}
