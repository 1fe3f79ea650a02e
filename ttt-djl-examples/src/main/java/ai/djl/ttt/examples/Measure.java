package ai.djl.ttt.examples;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Wall-clock timing with warm-up and repeats (medians, never single runs), and the peak resident
 * memory of a measured case: Linux's high-water mark {@code VmHWM}, reset before each case by
 * writing 5 to {@code /proc/self/clear_refs}.
 */
final class Measure {

    /** A body to time; may throw. */
    interface Body {
        void run() throws Exception;
    }

    /**
     * The timings of one case.
     *
     * @param millis each repeat, in order
     * @param peakMiB the peak resident memory during the case above the resident memory at its
     *     start, MiB (NaN when the kernel does not allow resetting the high-water mark)
     */
    record Result(double[] millis, double peakMiB) {

        /** The median of the repeats. */
        double median() {
            double[] sorted = millis.clone();
            Arrays.sort(sorted);
            int n = sorted.length;
            return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
        }

        /** The smallest and largest repeat, as "min–max". */
        String range() {
            double min = Arrays.stream(millis).min().orElse(Double.NaN);
            double max = Arrays.stream(millis).max().orElse(Double.NaN);
            return SpeedBench.format(min) + "–" + SpeedBench.format(max);
        }
    }

    private Measure() {}

    /**
     * Runs {@code warmup} untimed and {@code repeats} timed calls of the body.
     *
     * @param warmup untimed runs first (JIT, allocator, libtorch's first-call costs)
     * @param repeats timed runs
     * @param body the work
     * @return the timings and peak memory
     */
    static Result time(int warmup, int repeats, Body body) throws Exception {
        long baseline = resetPeak();
        for (int i = 0; i < warmup; i++) {
            body.run();
        }
        List<Double> millis = new ArrayList<>();
        for (int i = 0; i < repeats; i++) {
            long start = System.nanoTime();
            body.run();
            millis.add((System.nanoTime() - start) / 1e6);
        }
        double peak = baseline < 0 ? Double.NaN : (status("VmHWM") - baseline) / 1024.0;
        return new Result(millis.stream().mapToDouble(Double::doubleValue).toArray(), peak);
    }

    /**
     * Times several bodies in turn, one call of each per round ({@code warmup} untimed rounds, then
     * {@code repeats} timed ones), so that the machine's slow and fast spells spread over all of
     * them alike and their medians compare (decode at several positions).
     *
     * @param warmup untimed rounds first
     * @param repeats timed rounds
     * @param bodies the work, one per case
     * @return each body's timings; the peak memory is that of the whole interleaved run
     */
    static Result[] interleaved(int warmup, int repeats, Body... bodies) throws Exception {
        long baseline = resetPeak();
        for (int i = 0; i < warmup; i++) {
            for (Body body : bodies) {
                body.run();
            }
        }
        double[][] millis = new double[bodies.length][repeats];
        for (int i = 0; i < repeats; i++) {
            for (int b = 0; b < bodies.length; b++) {
                long start = System.nanoTime();
                bodies[b].run();
                millis[b][i] = (System.nanoTime() - start) / 1e6;
            }
        }
        double peak = baseline < 0 ? Double.NaN : (status("VmHWM") - baseline) / 1024.0;
        Result[] results = new Result[bodies.length];
        for (int b = 0; b < bodies.length; b++) {
            results[b] = new Result(millis[b], peak);
        }
        return results;
    }

    /** Resets the high-water mark to the current RSS; returns that RSS in KiB, or -1. */
    private static long resetPeak() throws IOException {
        try {
            Files.writeString(Path.of("/proc/self/clear_refs"), "5");
        } catch (IOException | SecurityException e) {
            return -1;
        }
        System.gc();
        return status("VmRSS");
    }

    /** A field of {@code /proc/self/status} in KiB. */
    static long status(String field) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith(field + ":")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        throw new IOException("no " + field + " in /proc/self/status");
    }
}
