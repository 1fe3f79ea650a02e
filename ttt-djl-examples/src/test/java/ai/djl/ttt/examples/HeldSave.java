package ai.djl.ttt.examples;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A {@code ttt train} run in a child JVM, killed ({@code kill -9}) while it holds the checkpoint
 * save of a step: the test hook {@code ai.djl.ttt.test.holdCheckpointSave} stops the save after the
 * weights and the optimizer state are written and before training.json commits them.
 */
final class HeldSave {

    private HeldSave() {}

    /** The child's exit status and what it printed. */
    record Killed(int exitValue, String log) {}

    /**
     * Runs the CLI with {@code args} in a child JVM, kills it when it holds the save of {@code
     * step}, and waits for it to end; fails if it never held that save.
     */
    static Killed killWhileSaving(int step, List<String> args)
            throws IOException, InterruptedException {
        List<String> command = new ArrayList<>();
        command.add(ProcessHandle.current().info().command().orElse("java"));
        command.add("-Dai.djl.ttt.test.holdCheckpointSave=" + step);
        command.add("-Dai.djl.pytorch.num_threads=1");
        command.addAll(List.of("-cp", System.getProperty("java.class.path")));
        command.add(TttCli.class.getName());
        command.addAll(args);
        Process child = new ProcessBuilder(command).redirectErrorStream(true).start();
        StringBuilder log = new StringBuilder();
        boolean holding = false;
        try (BufferedReader lines =
                new BufferedReader(
                        new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line = lines.readLine(); line != null; line = lines.readLine()) {
                log.append(line).append('\n');
                if (line.contains("holding the checkpoint save of step " + step)) {
                    holding = true;
                    child.destroyForcibly(); // SIGKILL on Linux: no shutdown hook, no finally
                    break;
                }
            }
        } finally {
            child.destroyForcibly();
        }
        assertTrue(holding, log.toString());
        assertTrue(child.waitFor(60, TimeUnit.SECONDS));
        return new Killed(child.exitValue(), log.toString());
    }
}
