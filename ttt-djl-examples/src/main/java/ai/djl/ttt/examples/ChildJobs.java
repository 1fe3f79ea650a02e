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
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * Runs jobs of a {@code ttt} command in child JVMs, a few at a time: DJL's PyTorch engine allows
 * one gradient collector per process, so trainings that should share the cores cannot share a JVM.
 * Each child runs the same command line plus {@code --worker JOB --worker-out FILE} and leaves its
 * result there as JSON ({@link #writeResult}); its output lines are printed with the job as prefix.
 * Result files stay where the caller put them (a study reuses them when it is run again); closing
 * stops every child still running.
 */
final class ChildJobs implements AutoCloseable {

    private static final Gson GSON = new Gson();

    private final List<String> commandLine;
    private final ExecutorService pool;
    private final List<Process> children = new CopyOnWriteArrayList<>();

    /**
     * @param parallel how many children run at once
     * @param commandLine the command and its options, as given to {@code ttt}
     */
    ChildJobs(int parallel, List<String> commandLine) {
        this.commandLine = List.copyOf(commandLine);
        this.pool = Executors.newFixedThreadPool(parallel);
    }

    /**
     * Starts a job when a slot is free (in the order of submission).
     *
     * @param job the worker's job
     * @param label what its output lines start with, in brackets
     * @param result where the worker writes its result
     * @param type the result's type
     * @return the child's result, or its failure
     */
    <T> CompletableFuture<T> submit(String job, String label, Path result, Class<T> type) {
        return CompletableFuture.supplyAsync(
                () -> {
                    try {
                        return run(job, label, result, type);
                    } catch (Exception e) {
                        throw new CompletionException(e);
                    }
                },
                pool);
    }

    /**
     * Waits for a job.
     *
     * @return the result; the job's own exception is rethrown
     */
    static <T> T join(CompletableFuture<T> future) throws Exception {
        try {
            return future.join();
        } catch (CompletionException e) {
            throw e.getCause() instanceof Exception cause ? cause : e;
        }
    }

    /** A result file of an earlier run, or {@code null} when there is none. */
    static <T> T readResult(Path file, Class<T> type) throws IOException {
        if (!Files.isRegularFile(file)) {
            return null;
        }
        return GSON.fromJson(Files.readString(file, StandardCharsets.UTF_8), type);
    }

    /** In a child: writes its result where the parent reads it (a temporary file, then a move). */
    static void writeResult(Path file, Object result) throws IOException {
        AtomicFiles.writeAtomically(file, GSON.toJson(result));
    }

    private <T> T run(String job, String label, Path result, Class<T> type) throws Exception {
        Files.deleteIfExists(result);
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
        String prefix = "[" + label + "] ";
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
        return readResult(result, type);
    }

    /** Stops the children still running. */
    @Override
    public void close() {
        pool.shutdownNow();
        children.forEach(Process::destroyForcibly);
    }
}
