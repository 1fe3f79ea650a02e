package ai.djl.ttt.examples;

import ai.djl.ttt.runtime.AtomicFiles;
import com.google.gson.Gson;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;

/**
 * Runs jobs of a {@code ttt} command in child JVMs, a few at a time: DJL's PyTorch engine allows
 * one gradient collector per process, so trainings that should share the cores cannot share a JVM.
 * Each child runs the same command line plus {@code --worker JOB --worker-out FILE} and leaves its
 * result there as JSON ({@link #writeResult}); its output lines are printed with the job as prefix.
 * Closing stops every child still running and deletes the result files.
 */
final class ChildJobs implements AutoCloseable {

    private static final Gson GSON = new Gson();

    private final List<String> commandLine;
    private final ExecutorService pool;
    private final Path dir;
    private final List<Process> children = new CopyOnWriteArrayList<>();

    /**
     * @param parallel how many children run at once
     * @param commandLine the command and its options, as given to {@code ttt}
     */
    ChildJobs(int parallel, List<String> commandLine) throws IOException {
        this.commandLine = List.copyOf(commandLine);
        this.pool = Executors.newFixedThreadPool(parallel);
        this.dir = Files.createTempDirectory("ttt-jobs");
    }

    /** Starts a job when a slot is free; its future holds the child's result. */
    <T> Future<T> submit(String job, Class<T> type) {
        Path result = dir.resolve("job-" + children.size() + "-" + System.nanoTime() + ".json");
        return pool.submit(() -> run(job, result, type));
    }

    /** The results in submission order; the first failure is rethrown. */
    static <T> List<T> collect(List<Future<T>> futures) throws Exception {
        List<T> results = new ArrayList<>();
        for (Future<T> f : futures) {
            try {
                results.add(f.get());
            } catch (ExecutionException e) {
                throw e.getCause() instanceof Exception cause ? cause : e;
            }
        }
        return results;
    }

    /** In a child: writes its result where the parent reads it (a temporary file, then a move). */
    static void writeResult(Path file, Object result) throws IOException {
        AtomicFiles.writeAtomically(file, GSON.toJson(result));
    }

    private <T> T run(String job, Path result, Class<T> type) throws Exception {
        List<String> command = new ArrayList<>();
        command.add(ProcessHandle.current().info().command().orElse("java"));
        command.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
        String threads = System.getProperty("ai.djl.pytorch.num_threads");
        if (threads != null) {
            command.add("-Dai.djl.pytorch.num_threads=" + threads);
        }
        command.addAll(List.of("-cp", System.getProperty("java.class.path")));
        command.add(TttCli.class.getName());
        command.addAll(commandLine);
        command.addAll(List.of("--worker", job, "--worker-out", result.toString()));
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        children.add(process);
        String prefix = "[" + job + "] ";
        try (BufferedReader lines =
                new BufferedReader(
                        new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line = lines.readLine(); line != null; line = lines.readLine()) {
                // DJL's offline model-zoo warnings, once per child, say nothing about the job
                if (!line.isBlank() && !line.contains("Failed to download")) {
                    synchronized (System.out) {
                        System.out.println(prefix + line);
                    }
                }
            }
        }
        int status = process.waitFor();
        if (status != 0 || !Files.exists(result)) {
            throw new IllegalStateException(job + " failed with exit status " + status);
        }
        return GSON.fromJson(Files.readString(result, StandardCharsets.UTF_8), type);
    }

    /** Stops the children still running and deletes the result files. */
    @Override
    public void close() throws IOException {
        pool.shutdownNow();
        children.forEach(Process::destroyForcibly);
        try (Stream<Path> files = Files.list(dir)) {
            for (Path f : files.toList()) {
                Files.deleteIfExists(f);
            }
        }
        Files.deleteIfExists(dir);
    }
}
