package ai.djl.ttt.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Every citation in the repository's sources and docs points to something a reader of the
 * repository can open: no reference to a document that lives outside it, and every {@code
 * reference.md §N} or {@code djl-notes.md §N} names a heading of that page.
 */
class DocCitationsTest {

    private static final Path ROOT = Path.of("..").toAbsolutePath().normalize();

    /** Citations of documents outside the repository (split so that this file does not match). */
    private static final List<Pattern> OUTSIDE =
            List.of(
                    Pattern.compile("(?i)\\bspec\\s*(\\*\\s*)?§"),
                    Pattern.compile("(?i)\\bthe spec\\b"),
                    Pattern.compile("ttt-" + "spec"),
                    Pattern.compile("djl-" + "notes(?!\\.md)"),
                    Pattern.compile("\\.\\./" + "shared"),
                    Pattern.compile("/work/" + "shared"));

    /** A page and its sections: {@code reference.md §1.2.6, §14.1} or {@code §1.4–1.5}. */
    private static final Pattern CITATION =
            Pattern.compile(
                    "(reference|djl-"
                            + "notes)\\.md\\)?\\s*(\\*\\s*)?"
                            + "(§[0-9.]*[0-9](?:[–-][0-9.]*[0-9])?"
                            + "(?:(?:,\\s*(?:\\*\\s*)?|\\s+and\\s+)§[0-9.]*[0-9]"
                            + "(?:[–-][0-9.]*[0-9])?)*)");

    private static final Pattern SECTION =
            Pattern.compile("§([0-9.]*[0-9])(?:[–-]([0-9.]*[0-9]))?");

    private static final Pattern HEADING =
            Pattern.compile("(?m)^#+\\s+([0-9]+(?:\\.[0-9]+)*)\\.?\\s");

    @Test
    void nothingCitesADocumentOutsideTheRepository() throws IOException {
        List<String> found = new ArrayList<>();
        for (Path file : sources()) {
            String text = Files.readString(file);
            for (Pattern pattern : OUTSIDE) {
                Matcher m = pattern.matcher(text);
                while (m.find()) {
                    found.add(
                            ROOT.relativize(file) + ":" + line(text, m.start()) + " " + m.group());
                }
            }
        }
        assertEquals(List.of(), found, "citations of documents that are not in the repository");
    }

    @Test
    void everyCitedSectionIsAHeading() throws IOException {
        Set<String> reference = headings("docs/reference.md");
        Set<String> notes = headings("docs/djl-notes.md");
        List<String> missing = new ArrayList<>();
        int citations = 0;
        for (Path file : sources()) {
            String text = Files.readString(file);
            Matcher m = CITATION.matcher(text);
            while (m.find()) {
                Set<String> sections = m.group(1).equals("reference") ? reference : notes;
                Matcher s = SECTION.matcher(m.group(3));
                while (s.find()) {
                    citations++;
                    for (String section : range(s.group(1), s.group(2))) {
                        if (!sections.contains(section)) {
                            missing.add(
                                    ROOT.relativize(file)
                                            + ":"
                                            + line(text, m.start())
                                            + " "
                                            + m.group(1)
                                            + ".md §"
                                            + section);
                        }
                    }
                }
            }
        }
        assertEquals(List.of(), missing, "cited sections with no heading");
        assertTrue(citations > 50, "only " + citations + " section citations found");
    }

    @Test
    void rangesAndListsAreRead() {
        Matcher m = CITATION.matcher("(reference.md §1.2.2–6, §14.1 and §3)");
        assertTrue(m.find());
        List<String> sections = new ArrayList<>();
        Matcher s = SECTION.matcher(m.group(3));
        while (s.find()) {
            sections.addAll(range(s.group(1), s.group(2)));
        }
        assertEquals(List.of("1.2.2", "1.2.6", "14.1", "3"), sections);
    }

    /** The first and last section of {@code §1.2.2–6} or {@code §1.4–1.5}: 1.2.2 and 1.2.6. */
    private static List<String> range(String first, String last) {
        if (last == null) {
            return List.of(first);
        }
        String[] a = first.split("\\.");
        String[] b = last.split("\\.");
        String[] end = a.clone();
        System.arraycopy(b, 0, end, a.length - b.length, b.length);
        return List.of(first, String.join(".", end));
    }

    private static Set<String> headings(String page) throws IOException {
        Set<String> result = new HashSet<>();
        Matcher m = HEADING.matcher(Files.readString(ROOT.resolve(page)));
        while (m.find()) {
            result.add(m.group(1));
        }
        assertTrue(result.size() > 5, page + " has " + result.size() + " numbered headings");
        return result;
    }

    /** Sources, scripts and docs of the repository, without build outputs and Git's folder. */
    private static List<Path> sources() throws IOException {
        try (Stream<Path> files = Files.walk(ROOT)) {
            List<Path> result =
                    files.filter(Files::isRegularFile)
                            .filter(p -> !ROOT.relativize(p).toString().startsWith(".git"))
                            .filter(p -> !ROOT.relativize(p).toString().contains("target"))
                            .filter(DocCitationsTest::isText)
                            .toList();
            assertTrue(result.size() > 100, "only " + result.size() + " files under " + ROOT);
            return result;
        }
    }

    private static boolean isText(Path p) {
        String name = p.getFileName().toString();
        return name.endsWith(".java")
                || name.endsWith(".md")
                || name.endsWith(".sh")
                || name.endsWith(".py")
                || name.endsWith(".xml")
                || name.endsWith(".properties")
                || name.endsWith(".ipynb")
                || name.equals("ttt")
                || name.equals("run");
    }

    private static int line(String text, int offset) {
        return (int) text.substring(0, offset).chars().filter(c -> c == '\n').count() + 1;
    }
}
