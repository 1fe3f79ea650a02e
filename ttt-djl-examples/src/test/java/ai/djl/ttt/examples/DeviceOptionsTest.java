package ai.djl.ttt.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.engine.Engine;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/** {@code --device}: parsing, a missing GPU as one clear line, and a run on {@code cpu}. */
class DeviceOptionsTest {

    private static final Path FIXTURES =
            Path.of("../ttt-djl-blocks/src/test/resources/ttt-reference");

    @Test
    void parsesCpuGpuAndGpuN() {
        assertEquals(Device.cpu(), DeviceOptions.parse("cpu"));
        assertEquals(Device.gpu(), DeviceOptions.parse("gpu"));
        assertEquals(Device.gpu(2), DeviceOptions.parse("GPU:2"));
        for (String bad : new String[] {"cuda", "gpu:", "gpu:-1", "gpu:x", "cpu:1", ""}) {
            IllegalArgumentException e =
                    assertThrows(IllegalArgumentException.class, () -> DeviceOptions.parse(bad));
            assertTrue(e.getMessage().contains("expected cpu, gpu or gpu:N"), e.getMessage());
            assertTrue(e.getMessage().contains("'" + bad + "'"), e.getMessage());
        }
    }

    @Test
    void everyCommandTakesDevice() {
        for (String[] command :
                new String[][] {
                    {"train"},
                    {"generate"},
                    {"eval"},
                    {"parity"},
                    {"bench", "speed"},
                    {"bench", "decode-memory"},
                    {"long-context"}
                }) {
            String[] args = new String[command.length + 1];
            System.arraycopy(command, 0, args, 0, command.length);
            args[command.length] = "--help";
            String help = CliTest.run(0, args);
            assertTrue(help.contains("--device=DEVICE"), String.join(" ", command) + ":\n" + help);
        }
    }

    @Test
    void parityRunsOnCpu() {
        String out =
                CliTest.run(
                        0,
                        "parity",
                        "--device",
                        "cpu",
                        FIXTURES.resolve("ttt_linear_layer_T64").toString());
        assertTrue(out.contains("PASS"), out);
    }

    @Test
    void aMissingGpuIsOneClearLine() {
        Assumptions.assumeTrue(
                Engine.getEngine("PyTorch").getGpuCount() == 0, "this machine has a GPU");
        String out =
                CliTest.run(
                        2,
                        "parity",
                        "--device",
                        "gpu",
                        FIXTURES.resolve("ttt_linear_layer_T64").toString());
        String error =
                out.lines().filter(l -> l.startsWith("error: ")).findFirst().orElse("(none)");
        assertTrue(error.contains("--device gpu: DJL's PyTorch engine"), out);
        assertTrue(error.contains("sees 0 GPU(s)"), out);
        assertFalse(out.contains("\tat "), "a stack trace:\n" + out);
        assertFalse(out.contains("case "), "the table started before the device was checked");
    }
}
