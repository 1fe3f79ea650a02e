package ai.djl.ttt.examples;

import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** tools/gpu-check.sh's checks, run on the CPU: a table that passes, and one that must fail. */
class GpuCheckTest {

    private static final String CASES = "../ttt-djl-blocks/src/test/resources/ttt-reference";

    private static String run(int expected, String... args) {
        return CliTest.capture(expected, GpuCheck::run, args);
    }

    @Test
    void everyCheckPassesOnTheCpu() {
        String out = run(0, "--device", "cpu", "--cases", CASES);
        for (String check :
                new String[] {
                    "parity decode_linear",
                    "parity ttt_mlp_layer_T64",
                    "prefill 16 + decode 32 linear",
                    "prefill 16 + decode 32 mlp",
                    "train step linear: cpu vs cpu (copy)",
                    "train step linear: loss falls",
                    "train step mlp: loss falls"
                }) {
            assertTrue(
                    out.lines().anyMatch(l -> l.startsWith(check) && l.endsWith("PASS")),
                    check + ":\n" + out);
        }
        assertTrue(out.strip().endsWith("PASS"), out);
        // on a CPU nothing claims to compare a device with the CPU
        assertTrue(out.lines().noneMatch(l -> l.contains("device vs cpu")), out);
    }

    @Test
    void aTighterToleranceThanTheRoundingFails() {
        String out = run(1, "--device", "cpu", "--cases", CASES, "--tolerance", "1e-12");
        assertTrue(out.lines().anyMatch(l -> l.startsWith("parity") && l.endsWith("FAIL")), out);
        assertTrue(out.strip().endsWith("FAIL"), out);
    }

    @Test
    void badArgumentsAreOneLine() {
        String out = run(2, "--device", "tpu");
        assertTrue(out.contains("error: --device: expected cpu, gpu or gpu:N"), out);
        out = run(2, "--device", "cpu", "--cases", "no-such-dir");
        assertTrue(out.contains("error: --cases: no-such-dir is not a directory"), out);
    }
}
