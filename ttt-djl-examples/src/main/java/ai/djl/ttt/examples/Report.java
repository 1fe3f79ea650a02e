package ai.djl.ttt.examples;

import ai.djl.engine.Engine;
import ai.djl.ttt.runtime.AtomicFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * A generated markdown page whose top is hand-written: the text above a marker line is kept, the
 * rest is replaced atomically (a temporary file, then a move). Also the line that names the machine
 * a result was measured on.
 */
final class Report {

    private Report() {}

    /**
     * Writes {@code generated} below {@code marker} in {@code file}, keeping what is above the
     * marker (or starting the file with {@code title} if it does not exist yet).
     */
    static void write(Path file, String marker, String title, String generated) throws IOException {
        String preamble = "# " + title + "\n\n";
        if (Files.exists(file)) {
            String text = Files.readString(file, StandardCharsets.UTF_8);
            int at = text.indexOf(marker);
            preamble = at < 0 ? text + "\n" : text.substring(0, at);
        }
        AtomicFiles.writeAtomically(file, preamble + marker + "\n\n" + generated);
    }

    /**
     * The machine's load averages (as {@code uptime} prints them), for runs on a shared machine.
     *
     * @return "1 min, 5 min, 15 min" from {@code /proc/loadavg}, or "unknown"
     */
    static String load() throws IOException {
        Path loadavg = Path.of("/proc/loadavg");
        if (!Files.isReadable(loadavg)) {
            return "unknown";
        }
        String[] f = Files.readString(loadavg).trim().split("\\s+");
        return "load average " + f[0] + ", " + f[1] + ", " + f[2];
    }

    /** CPU model, visible cores, libtorch threads, OpenMP wait policy, engine and Java versions. */
    static String machine() throws IOException {
        String cpu = "unknown CPU";
        Path cpuinfo = Path.of("/proc/cpuinfo");
        if (Files.isReadable(cpuinfo)) {
            for (String line : Files.readAllLines(cpuinfo)) {
                if (line.startsWith("model name")) {
                    cpu = line.substring(line.indexOf(':') + 1).trim();
                    break;
                }
            }
        }
        return String.format(
                Locale.ROOT,
                "%s, %d cores visible, %s libtorch threads, OMP_WAIT_POLICY=%s; %s %s, Java %s",
                cpu,
                Runtime.getRuntime().availableProcessors(),
                System.getProperty("ai.djl.pytorch.num_threads", "default"),
                System.getenv().getOrDefault("OMP_WAIT_POLICY", "(unset)"),
                Engine.getInstance().getEngineName(),
                Engine.getInstance().getVersion(),
                System.getProperty("java.version"));
    }
}
