package ai.djl.ttt.examples;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import jdk.jshell.DeclarationSnippet;
import jdk.jshell.ExpressionSnippet;
import jdk.jshell.JShell;
import jdk.jshell.Snippet;
import jdk.jshell.SnippetEvent;
import jdk.jshell.SourceCodeAnalysis;
import jdk.jshell.VarSnippet;

/**
 * Runs an IJava notebook the way the IJava kernel does: every code cell, in order, in one JShell
 * whose remote JVM has the classpath the notebook's {@code %maven} lines ask for — resolved to this
 * build's jars rather than downloaded. A cell that does not compile, throws, or names an artifact
 * the build does not have fails the run with the cell's number.
 *
 * <p>Each cell's printed output and the value of a final expression are collected as Jupyter
 * outputs, so a run can also write them back into the notebook.
 */
final class NotebookRunner {

    /** {@code %maven group:artifact[:packaging[:classifier]]:version}, IJava's syntax. */
    private static final Pattern MAVEN =
            Pattern.compile("%maven\\s+([\\w.\\-]+):([\\w.\\-]+)(?::([\\w.\\-]+))*:([\\w.\\-]+)");

    private static final String END = "\u0000cell-end\u0000";
    private static final Gson GSON =
            new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().create();

    private final List<String> runtimeClasspath;
    private final String moduleClasses;
    private final String projectVersion;

    /**
     * Creates a runner.
     *
     * @param runtimeClasspath the runtime classpath of ttt-djl-examples (its transitive closure)
     * @param moduleClasses the classes folder of ttt-djl-examples
     * @param projectVersion the version the notebooks must ask for
     */
    NotebookRunner(List<String> runtimeClasspath, String moduleClasses, String projectVersion) {
        this.runtimeClasspath = runtimeClasspath;
        this.moduleClasses = moduleClasses;
        this.projectVersion = projectVersion;
    }

    /** The outcome of one notebook. */
    record Run(JsonObject notebook, List<JsonArray> outputs, int codeCells) {}

    /**
     * Runs every code cell of a notebook.
     *
     * @param path the {@code .ipynb}
     * @return the notebook with the new outputs (not written)
     * @throws AssertionError when a cell fails
     */
    Run run(Path path) throws IOException {
        JsonObject notebook =
                GSON.fromJson(Files.readString(path, StandardCharsets.UTF_8), JsonObject.class);
        String kernel =
                notebook.getAsJsonObject("metadata")
                        .getAsJsonObject("kernelspec")
                        .get("name")
                        .getAsString();
        if (!"java".equals(kernel)) {
            throw new AssertionError(path + ": expected the IJava kernel 'java', got " + kernel);
        }
        List<JsonObject> cells = new ArrayList<>();
        for (JsonElement cell : notebook.getAsJsonArray("cells")) {
            if ("code".equals(cell.getAsJsonObject().get("cell_type").getAsString())) {
                cells.add(cell.getAsJsonObject());
            }
        }
        Set<String> classpath = new LinkedHashSet<>();
        for (JsonObject cell : cells) {
            for (String line : source(cell).split("\n")) {
                if (line.startsWith("%maven")) {
                    classpath.addAll(resolve(path, line.trim()));
                }
            }
        }

        SwitchableStream sink = new SwitchableStream();
        PrintStream out = new PrintStream(sink, true, StandardCharsets.UTF_8);
        List<JsonArray> outputs = new ArrayList<>();
        try (JShell shell =
                JShell.builder()
                        .out(out)
                        .err(out)
                        .remoteVMOptions(
                                "-Xmx3g",
                                "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
                                // GPU detection warns on machines with CUDA libraries but no GPU
                                "-Dorg.slf4j.simpleLogger.log.ai.djl.util.cuda.CudaUtils=error")
                        .build()) {
            for (String entry : classpath) {
                shell.addToClasspath(entry);
            }
            int count = 0;
            for (JsonObject cell : cells) {
                count++;
                sink.reset();
                String value = runCell(shell, path, count, code(source(cell)));
                // the remote JVM's output arrives on another thread: wait for a marker after it
                shell.eval("System.out.print(\"" + END.replace("\u0000", "\\u0000") + "\");");
                String printed = sink.awaitMarker(END, path + " cell " + count);
                outputs.add(outputs(printed, value, count));
            }
        }
        for (int i = 0; i < cells.size(); i++) {
            cells.get(i).add("outputs", outputs.get(i));
            cells.get(i).addProperty("execution_count", i + 1);
        }
        return new Run(notebook, outputs, cells.size());
    }

    /**
     * Writes a run's notebook back to its file.
     *
     * @param run the run
     * @param path the file
     */
    static void write(Run run, Path path) throws IOException {
        Path tmp = Files.createTempFile(path.getParent(), path.getFileName().toString(), ".tmp");
        Files.writeString(tmp, GSON.toJson(run.notebook()) + "\n", StandardCharsets.UTF_8);
        Files.move(tmp, path, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /** Evaluates one cell snippet by snippet; returns the value of a final expression, if any. */
    private static String runCell(JShell shell, Path path, int cell, String code) {
        SourceCodeAnalysis analysis = shell.sourceCodeAnalysis();
        String remaining = code;
        String value = null;
        while (!remaining.isBlank()) {
            SourceCodeAnalysis.CompletionInfo info = analysis.analyzeCompletion(remaining);
            if (info.completeness() == SourceCodeAnalysis.Completeness.EMPTY) {
                break;
            }
            if (!info.completeness().isComplete()) {
                throw new AssertionError(
                        path + " cell " + cell + ": incomplete code: " + remaining.strip());
            }
            String snippetSource = info.source();
            remaining = info.remaining();
            value = null;
            for (SnippetEvent event : shell.eval(snippetSource)) {
                check(shell, path, cell, event);
                Snippet snippet = event.snippet();
                boolean expression =
                        snippet instanceof ExpressionSnippet
                                || (snippet instanceof VarSnippet
                                        && snippet.subKind()
                                                == Snippet.SubKind.TEMP_VAR_EXPRESSION_SUBKIND);
                // like IJava, a cell shows the value of a last expression without a semicolon
                if (expression
                        && event.causeSnippet() == null
                        && !snippetSource.strip().endsWith(";")) {
                    value = event.value();
                }
            }
        }
        return value;
    }

    private static void check(JShell shell, Path path, int cell, SnippetEvent event) {
        String where = path.getFileName() + " cell " + cell + ": ";
        if (event.exception() != null) {
            throw new AssertionError(
                    where + event.snippet().source().strip() + "\nthrew " + event.exception(),
                    event.exception());
        }
        if (event.causeSnippet() != null) {
            return;
        }
        Snippet.Status status = event.status();
        if (status == Snippet.Status.REJECTED
                || status == Snippet.Status.RECOVERABLE_DEFINED
                || status == Snippet.Status.RECOVERABLE_NOT_DEFINED) {
            StringBuilder diagnostics = new StringBuilder();
            shell.diagnostics(event.snippet())
                    .forEach(d -> diagnostics.append("\n  ").append(d.getMessage(Locale.ROOT)));
            if (event.snippet() instanceof DeclarationSnippet declaration) {
                shell.unresolvedDependencies(declaration)
                        .forEach(u -> diagnostics.append("\n  unresolved: ").append(u));
            }
            throw new AssertionError(
                    where + status + ": " + event.snippet().source().strip() + diagnostics);
        }
    }

    /** The entries of the classpath a {@code %maven} line stands for. */
    private List<String> resolve(Path notebook, String line) {
        Matcher m = MAVEN.matcher(line);
        if (!m.matches()) {
            throw new AssertionError(notebook + ": cannot read " + line);
        }
        String group = m.group(1);
        String artifact = m.group(2);
        String classifier = m.group(3);
        String version = m.group(4);
        if (group.equals("ai.djl.ttt")) {
            if (!version.equals(projectVersion)) {
                throw new AssertionError(
                        notebook
                                + ": "
                                + line
                                + " asks for version "
                                + version
                                + ", the build is "
                                + projectVersion);
            }
            if (artifact.equals("ttt-djl-examples")) {
                List<String> all = new ArrayList<>();
                all.add(moduleClasses);
                all.addAll(runtimeClasspath);
                return all;
            }
            if (artifact.equals("ttt-djl-blocks")) {
                return runtimeClasspath;
            }
            throw new AssertionError(notebook + ": no module " + artifact + " in this build");
        }
        String file =
                artifact + "-" + version + (classifier == null ? "" : "-" + classifier) + ".jar";
        for (String entry : runtimeClasspath) {
            if (Path.of(entry).getFileName().toString().equals(file)) {
                return List.of(entry);
            }
        }
        throw new AssertionError(
                notebook + ": " + line + " names " + file + ", which the build does not have");
    }

    /** IJava runs a cell's Java code; the magic lines are not Java. */
    private static String code(String source) {
        StringBuilder code = new StringBuilder();
        for (String line : source.split("\n", -1)) {
            code.append(line.startsWith("%") ? "" : line).append('\n');
        }
        return code.toString();
    }

    private static String source(JsonObject cell) {
        JsonElement source = cell.get("source");
        if (source.isJsonArray()) {
            StringBuilder s = new StringBuilder();
            source.getAsJsonArray().forEach(e -> s.append(e.getAsString()));
            return s.toString();
        }
        return source.getAsString();
    }

    /** Jupyter outputs: the printed text (carriage returns applied) and the final value. */
    private static JsonArray outputs(String printed, String value, int count) {
        JsonArray outputs = new JsonArray();
        String text = applyCarriageReturns(printed);
        if (!text.isEmpty()) {
            JsonObject stream = new JsonObject();
            stream.addProperty("name", "stdout");
            stream.addProperty("output_type", "stream");
            stream.add("text", lines(text));
            outputs.add(stream);
        }
        if (value != null) {
            JsonObject result = new JsonObject();
            JsonObject data = new JsonObject();
            data.add("text/plain", lines(value));
            result.add("data", data);
            result.addProperty("execution_count", count);
            result.add("metadata", new JsonObject());
            result.addProperty("output_type", "execute_result");
            outputs.add(result);
        }
        return outputs;
    }

    /** A progress bar redraws its line with {@code \r}; keep what a terminal would show. */
    static String applyCarriageReturns(String text) {
        StringBuilder result = new StringBuilder();
        for (String line : text.split("\n", -1)) {
            int cr = line.lastIndexOf('\r', line.length() - 1);
            while (cr == line.length() - 1 && cr >= 0) {
                line = line.substring(0, cr);
                cr = line.lastIndexOf('\r');
            }
            result.append(cr >= 0 ? line.substring(cr + 1) : line).append('\n');
        }
        String s = result.toString();
        return s.substring(0, s.length() - 1);
    }

    private static JsonArray lines(String text) {
        JsonArray array = new JsonArray();
        String[] parts = text.split("(?<=\n)");
        for (String part : parts) {
            array.add(new JsonPrimitive(part));
        }
        return array;
    }

    /** An output stream whose content is collected per cell. */
    private static final class SwitchableStream extends OutputStream {
        private final ByteArrayOutputStream buffer = new ByteArrayOutputStream();

        @Override
        public synchronized void write(int b) {
            buffer.write(b);
            notifyAll();
        }

        @Override
        public synchronized void write(byte[] b, int off, int len) {
            buffer.write(b, off, len);
            notifyAll();
        }

        synchronized void reset() {
            buffer.reset();
        }

        synchronized String awaitMarker(String marker, String where) {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (!buffer.toString(StandardCharsets.UTF_8).contains(marker)) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new AssertionError(where + ": output did not arrive");
                }
                try {
                    TimeUnit.NANOSECONDS.timedWait(this, left);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new AssertionError(where + ": interrupted", e);
                }
            }
            String all = buffer.toString(StandardCharsets.UTF_8);
            return all.substring(0, all.indexOf(marker));
        }
    }
}
