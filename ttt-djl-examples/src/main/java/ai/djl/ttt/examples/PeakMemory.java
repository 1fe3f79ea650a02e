package ai.djl.ttt.examples;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * The peak native memory of one benchmark case, measured in a fresh JVM.
 *
 * <p>Why a fresh process: libtorch allocates through glibc's {@code malloc}, which keeps the memory
 * that earlier cases freed and hands it out again, so measured inside one long benchmark run a case
 * that fits in what an earlier one left grows the resident set by little or nothing (TTT-Linear's
 * forward + backward at T = 2048, which holds the whole graph of activations, showed 0 MiB). A
 * fresh JVM runs {@code ttt bench speed --memory-case KIND:LAYER:ARG}: it builds the case, warms
 * its code paths up on 16 tokens (libtorch's and MKL's own buffers, the JIT), and prints the growth
 * of its resident set during one run of the case ({@link Measure}).
 */
final class PeakMemory {

    /** The line the child prints its figure on: this prefix, a space, MiB. */
    static final String PREFIX = "peak-MiB:";

    /**
     * A case that runs longer than this is stopped (the longest, attention at 8192, takes ~20 s).
     */
    private static final long TIMEOUT_MINUTES = 30;

    private PeakMemory() {}

    /**
     * Measures one case in a child JVM with this JVM's classpath, environment, heap and {@code -D}
     * settings, and {@code ai.djl.*} system properties.
     *
     * @param memoryCase the case, {@code KIND:LAYER:ARG} (see {@code SpeedBench})
     * @param quick whether the benchmark runs its smoke-test setting
     * @param threads PyTorch's intra-op threads
     * @return the case's peak above its start, MiB (NaN where the kernel cannot reset the mark)
     * @throws IllegalStateException if the child fails, runs past 30 minutes or prints no figure;
     *     the message says which and carries the end of its output
     */
    static double inFreshJvm(String memoryCase, boolean quick, int threads)
            throws IOException, InterruptedException {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        // this JVM's heap and -D settings (DJL reads PYTORCH_* and cache paths from them), not its
        // agents or debugger
        for (String arg : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (arg.startsWith("-D") || arg.startsWith("-Xm") || arg.startsWith("-XX:")) {
                command.add(arg);
            }
        }
        // DJL's and our own switches set while running (engine threads, scan threads, splits)
        for (String name : System.getProperties().stringPropertyNames()) {
            if (name.startsWith("ai.djl.")) {
                command.add("-D" + name + "=" + System.getProperty(name));
            }
        }
        command.add("-Dorg.slf4j.simpleLogger.defaultLogLevel=warn");
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(TttCli.class.getName());
        command.addAll(List.of("bench", "speed", "--memory-case", memoryCase));
        command.addAll(List.of("--threads", Integer.toString(threads)));
        if (quick) {
            command.add("--quick");
        }
        Path log = Files.createTempFile("ttt-memory-case", ".log");
        Process child = null;
        try {
            child =
                    new ProcessBuilder(command)
                            .redirectErrorStream(true)
                            .redirectOutput(log.toFile())
                            .start();
            if (!child.waitFor(TIMEOUT_MINUTES, TimeUnit.MINUTES)) {
                throw failure(memoryCase, "ran past " + TIMEOUT_MINUTES + " minutes", log);
            }
            int status = child.exitValue();
            if (status != 0) {
                throw failure(memoryCase, "exit " + status, log);
            }
            for (String line : Files.readAllLines(log, StandardCharsets.UTF_8)) {
                if (line.startsWith(PREFIX)) {
                    String figure = line.substring(PREFIX.length()).trim();
                    try {
                        return Double.parseDouble(figure);
                    } catch (NumberFormatException e) {
                        throw failure(
                                memoryCase,
                                "a number after '" + PREFIX + "', got '" + figure + "'",
                                log);
                    }
                }
            }
            throw failure(memoryCase, "exit 0 but no '" + PREFIX + " N' line", log);
        } finally {
            if (child != null && child.isAlive()) {
                child.destroyForcibly();
            }
            Files.deleteIfExists(log);
        }
    }

    private static IllegalStateException failure(String memoryCase, String what, Path log)
            throws IOException {
        String output = Files.readString(log, StandardCharsets.UTF_8);
        return new IllegalStateException(
                String.format(
                        Locale.ROOT,
                        "measuring the peak memory of %s in a fresh JVM failed (%s): %s",
                        memoryCase,
                        what,
                        output.substring(Math.max(0, output.length() - 2000))));
    }
}
