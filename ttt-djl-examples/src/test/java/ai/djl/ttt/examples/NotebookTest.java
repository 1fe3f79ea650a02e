package ai.djl.ttt.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs every code cell of every notebook in {@code docs/notebooks}, so a notebook that stops
 * working fails the build. With {@code -Dnotebooks.write=true} the outputs of the run are written
 * back into the notebooks (that is how their saved outputs are produced).
 */
class NotebookTest {

    @TestFactory
    Stream<DynamicTest> everyNotebookRuns() throws IOException {
        Path dir = Path.of(System.getProperty("notebooks.dir"));
        List<Path> notebooks;
        try (Stream<Path> files = Files.list(dir)) {
            notebooks = files.filter(p -> p.toString().endsWith(".ipynb")).sorted().toList();
        }
        assertEquals(3, notebooks.size(), "notebooks in " + dir + ": " + notebooks);
        NotebookRunner runner = runner();
        boolean write = Boolean.getBoolean("notebooks.write");
        return notebooks.stream()
                .map(
                        path ->
                                DynamicTest.dynamicTest(
                                        path.getFileName().toString(),
                                        () -> {
                                            NotebookRunner.Run run = runner.run(path);
                                            assertTrue(run.codeCells() > 3, path.toString());
                                            if (write) {
                                                NotebookRunner.write(run, path);
                                            }
                                        }));
    }

    @Test
    void progressBarsKeepTheirLastState() {
        assertEquals(
                "a\nstep 3\nb",
                NotebookRunner.applyCarriageReturns("a\nstep 1\rstep 2\rstep 3\r\nb"));
    }

    @Test
    void unknownArtifactsAndFailingCellsFail(@TempDir Path tmp) throws IOException {
        NotebookRunner runner = runner();
        Path missing = tmp.resolve("missing.ipynb");
        Files.writeString(missing, notebook("%maven com.example:nothing:1.0", "int x = 1;"));
        AssertionError e = assertThrows(AssertionError.class, () -> runner.run(missing));
        assertTrue(e.getMessage().contains("nothing-1.0.jar"), e.getMessage());

        Path throwing = tmp.resolve("throwing.ipynb");
        Files.writeString(
                throwing,
                notebook("int x = 1;", "if (x == 1) throw new IllegalStateException(\"boom\");"));
        e = assertThrows(AssertionError.class, () -> runner.run(throwing));
        assertTrue(e.getMessage().contains("cell 2"), e.getMessage());

        Path ok = tmp.resolve("ok.ipynb");
        Files.writeString(ok, notebook("int x = 20;", "System.out.println(x + 1);\nx * 2"));
        NotebookRunner.Run run = runner.run(ok);
        assertEquals(
                "21\n",
                run.outputs()
                        .get(1)
                        .get(0)
                        .getAsJsonObject()
                        .get("text")
                        .getAsJsonArray()
                        .get(0)
                        .getAsString());
        assertFalse(run.outputs().get(1).isEmpty());
    }

    private static NotebookRunner runner() throws IOException {
        String classpath =
                Files.readString(
                                Path.of(System.getProperty("notebooks.classpath")),
                                StandardCharsets.UTF_8)
                        .trim();
        return new NotebookRunner(
                Arrays.asList(classpath.split(File.pathSeparator)),
                System.getProperty("notebooks.classes"),
                System.getProperty("project.version"));
    }

    /** A notebook of code cells, one per source. */
    private static String notebook(String... cells) {
        JsonObject nb = new JsonObject();
        JsonArray array = new JsonArray();
        for (String source : cells) {
            JsonObject cell = new JsonObject();
            cell.addProperty("cell_type", "code");
            cell.addProperty("source", source);
            cell.add("metadata", new JsonObject());
            cell.add("outputs", new JsonArray());
            array.add(cell);
        }
        nb.add("cells", array);
        JsonObject kernel = new JsonObject();
        kernel.addProperty("name", "java");
        JsonObject metadata = new JsonObject();
        metadata.add("kernelspec", kernel);
        nb.add("metadata", metadata);
        return nb.toString();
    }
}
