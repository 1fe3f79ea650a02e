package ai.djl.ttt.training;

import ai.djl.basicdataset.nlp.WikiText2;
import ai.djl.training.dataset.Dataset;
import ai.djl.translate.TranslateException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Training text: a file, a folder of text files, a classpath resource, or WikiText-2 through DJL's
 * {@code basicdataset} (downloaded at run time, so only for machines that are online).
 */
public final class Corpus {

    private Corpus() {}

    /**
     * Reads a text file, or every UTF-8 text file under a folder (sorted by path, joined by blank
     * lines; files that are not valid UTF-8 are skipped).
     *
     * @param path a file or a folder
     * @return the text
     * @throws IOException if the path cannot be read or holds no text
     */
    public static String read(Path path) throws IOException {
        if (Files.isRegularFile(path)) {
            return Files.readString(path, StandardCharsets.UTF_8);
        }
        if (!Files.isDirectory(path)) {
            throw new IOException("corpus " + path + " is neither a file nor a folder");
        }
        List<Path> files;
        try (Stream<Path> walk = Files.walk(path)) {
            files = walk.filter(Files::isRegularFile).sorted().collect(Collectors.toList());
        }
        StringBuilder text = new StringBuilder();
        for (Path file : files) {
            String content = utf8OrNull(Files.readAllBytes(file));
            if (content != null) {
                text.append(content).append("\n\n");
            }
        }
        if (text.length() == 0) {
            throw new IOException("corpus folder " + path + " holds no UTF-8 text file");
        }
        return text.toString();
    }

    /**
     * Reads a classpath resource.
     *
     * @param name the resource name, e.g. {@code /ttt-corpus.txt}
     * @return the text
     * @throws IOException if the resource is missing
     */
    public static String resource(String name) throws IOException {
        try (InputStream is = Corpus.class.getResourceAsStream(name)) {
            if (is == null) {
                throw new IOException("no resource " + name + " on the classpath");
            }
            return new String(is.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    /**
     * Reads a split of WikiText-2 through DJL's {@code basicdataset}. DJL downloads it from {@code
     * mlrepo.djl.ai} into {@code ~/.djl.ai} on first use; offline this fails fast.
     *
     * @param usage train, validation or test
     * @return the text
     * @throws IOException with a clear message when the download is impossible
     */
    public static String wikiText2(Dataset.Usage usage) throws IOException {
        try {
            WikiText2 data = WikiText2.builder().optUsage(usage).build();
            data.prepare();
            return Files.readString(data.getData(), StandardCharsets.UTF_8);
        } catch (IOException | TranslateException | RuntimeException e) {
            throw new IOException(
                    "WikiText-2 could not be loaded: DJL downloads it at run time from"
                            + " https://mlrepo.djl.ai and this machine seems to be offline ("
                            + e
                            + "). Use a local corpus file or folder instead.",
                    e);
        }
    }

    private static String utf8OrNull(byte[] bytes) {
        try {
            return StandardCharsets.UTF_8
                    .newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes))
                    .toString();
        } catch (CharacterCodingException e) {
            return null;
        }
    }
}
