package ai.djl.ttt.examples;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

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

    private PeakMemory() {}

    /**
     * Measures one case in a child JVM with this JVM's classpath, environment and {@code ai.djl.*}
     * system properties.
     *
     * @param memoryCase the case, {@code KIND:LAYER:ARG} (see {@code SpeedBench})
     * @param quick whether the benchmark runs its smoke-test setting
     * @param threads PyTorch's intra-op threads
     * @return the case's peak above its start, MiB (NaN where the kernel cannot reset the mark)
     * @throws IllegalStateException if the child fails or prints no figure; the message carries the
     *     end of its output
     */
    static double inFreshJvm(String memoryCase, boolean quick, int threads)
            throws IOException, InterruptedException {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add("-Dorg.slf4j.simpleLogger.defaultLogLevel=warn");
        // DJL's and our own switches (engine, scan threads, splits) as this JVM has them
        for (String name : System.getProperties().stringPropertyNames()) {
            if (name.startsWith("ai.djl.")) {
                command.add("-D" + name + "=" + System.getProperty(name));
            }
        }
        command.add(TttCli.class.getName());
        command.addAll(List.of("bench", "speed", "--memory-case", memoryCase));
        command.addAll(List.of("--threads", Integer.toString(threads)));
        if (quick) {
            command.add("--quick");
        }
        Process child = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output;
        try (InputStream in = child.getInputStream()) {
            output = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        int status = child.waitFor();
        for (String line : output.split("\n")) {
            if (status == 0 && line.startsWith(PREFIX)) {
                return Double.parseDouble(line.substring(PREFIX.length()).trim());
            }
        }
        throw new IllegalStateException(
                String.format(
                        Locale.ROOT,
                        "measuring the peak memory of %s in a fresh JVM failed (exit %d): %s",
                        memoryCase,
                        status,
                        output.substring(Math.max(0, output.length() - 2000))));
    }
}
