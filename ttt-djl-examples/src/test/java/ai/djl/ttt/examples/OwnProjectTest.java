package ai.djl.ttt.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ttt.examples.quickstart.OwnProject;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * docs/own-project.md's program runs, and the page shows the code that the build compiles (the body
 * of its {@code main}; tools/own-project-check.sh builds the page's whole project).
 */
class OwnProjectTest {

    @Test
    void runsAndPrintsTheDevice() {
        PrintStream saved = System.out;
        ByteArrayOutputStream buffer = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(buffer, true, StandardCharsets.UTF_8));
            OwnProject.main(new String[0]);
        } finally {
            System.setOut(saved);
        }
        String out = buffer.toString(StandardCharsets.UTF_8);
        assertTrue(out.contains(": TTT-Linear (1, 64, 64) -> (1, 64, 64) on "), out);
    }

    @Test
    void thePageShowsTheCompiledCode() throws Exception {
        String source =
                between(
                        Files.readString(
                                Path.of(
                                        "src/main/java/ai/djl/ttt/examples/quickstart/"
                                                + "OwnProject.java")),
                        "// own-project:begin",
                        "// own-project:end");
        String program =
                between(
                        Files.readString(Path.of("../docs/own-project.md")),
                        "<!-- own-project:program:begin -->",
                        "<!-- own-project:program:end -->");
        String page = between(program, "public static void main(String[] args) {\n", "\n    }\n");
        assertEquals(dedent(source), dedent(page));
    }

    private static String between(String text, String begin, String end) {
        int from = text.indexOf(begin);
        int to = text.indexOf(end);
        assertTrue(from >= 0 && to > from, "markers " + begin + " / " + end + " not found");
        return text.substring(from + begin.length(), to);
    }

    /** The snippet without the method body's indentation. */
    private static String dedent(String code) {
        List<String> lines = code.strip().lines().toList();
        return lines.stream()
                .map(l -> l.startsWith("        ") ? l.substring(8) : l.strip())
                .collect(Collectors.joining("\n"));
    }
}
