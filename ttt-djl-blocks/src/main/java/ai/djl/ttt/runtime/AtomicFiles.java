package ai.djl.ttt.runtime;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.SecureRandom;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * Atomic file writes: a temporary file in the same directory, then a move into place, so that a
 * crash never leaves a half-written file under the real name. Every file ttt-djl writes goes
 * through here (model directories, docs pages, charts).
 *
 * <p>Permissions: the temporary file is created as a plain new file ({@code CREATE_NEW}), so it
 * gets what any new file gets under the process's umask (e.g. {@code -rw-r--r--} under umask 022),
 * like the {@code .params} files DJL writes. ({@code Files.createTempFile} would make it {@code
 * -rw-------}: a serving process running as another user could not read the model.)
 */
public final class AtomicFiles {

    private static final SecureRandom RANDOM = new SecureRandom();

    private AtomicFiles() {}

    /** An action that writes a file. */
    @FunctionalInterface
    public interface Writer {
        /**
         * Writes the content.
         *
         * @param file the (temporary) file to write
         * @throws IOException if writing fails
         */
        void write(Path file) throws IOException;
    }

    /**
     * Writes a UTF-8 text atomically.
     *
     * @param file the destination (its folder is created if needed)
     * @param text the content
     * @throws IOException if writing fails; the destination is then unchanged
     */
    public static void writeAtomically(Path file, String text) throws IOException {
        writeAtomically(file, tmp -> Files.writeString(tmp, text, StandardCharsets.UTF_8));
    }

    /**
     * Writes a file atomically: {@code writer} writes a temporary file next to it, which is then
     * moved into place.
     *
     * @param file the destination (its folder is created if needed)
     * @param writer what writes the content
     * @throws IOException if writing fails; the destination is then unchanged
     */
    public static void writeAtomically(Path file, Writer writer) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path tmp = newTempFile(dir, "." + file.getFileName());
        try {
            writer.write(tmp);
            Files.move(
                    tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /**
     * Creates a new folder atomically: {@code writer} fills a temporary sibling folder, which is
     * then renamed to {@code dir}, so the folder either appears complete or not at all. Refuses to
     * overwrite: {@code dir} must not exist (checked before writing; the rename itself does not
     * replace a folder that holds anything).
     *
     * @param dir the folder to create (its parent is created if needed)
     * @param writer what writes the content into the (temporary) folder it is given
     * @throws FileAlreadyExistsException if {@code dir} already exists
     * @throws IOException if writing fails; nothing is then left behind
     */
    public static void createFolderAtomically(Path dir, Writer writer) throws IOException {
        Path target = dir.toAbsolutePath().normalize();
        if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
            throw new FileAlreadyExistsException(
                    target.toString(), null, "refusing to overwrite it: choose a new folder");
        }
        Path parent = target.getParent();
        Files.createDirectories(parent);
        // a plain mkdir (not createTempDirectory, which is owner-only): the folder gets the
        // permissions any new folder gets, as the one it becomes should
        Path tmp = null;
        while (tmp == null) {
            try {
                tmp =
                        Files.createDirectory(
                                parent.resolve(
                                        "."
                                                + target.getFileName()
                                                + ".tmp-"
                                                + Long.toHexString(RANDOM.nextLong())));
            } catch (FileAlreadyExistsException e) {
                // drawn twice: draw again
            }
        }
        try {
            writer.write(tmp);
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            deleteTree(tmp);
        }
    }

    /** Deletes a folder and everything in it, if it exists. */
    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        List<Path> paths;
        try (Stream<Path> walk = Files.walk(dir)) {
            paths = walk.sorted(Comparator.reverseOrder()).toList();
        }
        for (Path p : paths) {
            Files.deleteIfExists(p);
        }
    }

    /**
     * Creates a new empty file with a random name in {@code dir}, with the permissions of any new
     * file under the process umask.
     */
    private static Path newTempFile(Path dir, String prefix) throws IOException {
        for (int attempt = 0; ; attempt++) {
            Path tmp = dir.resolve(prefix + Long.toUnsignedString(RANDOM.nextLong()) + ".tmp");
            try {
                Files.newByteChannel(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)
                        .close();
                return tmp;
            } catch (FileAlreadyExistsException e) {
                if (attempt >= 100) {
                    throw e;
                }
            }
        }
    }
}
