package ai.djl.ttt.spark;

import java.io.IOException;
import java.io.Serializable;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.spark.SparkEnv;
import org.apache.spark.SparkFiles;

/**
 * Where an executor finds a model directory (a folder with {@code config.json}, as {@code ttt
 * train} writes it, or an official checkpoint): the location travels with the job as a string, and
 * each executor resolves it to a local folder, in this order:
 *
 * <ol>
 *   <li>a path (or {@code file:} URI) that the executor can read: a local folder, or shared storage
 *       mounted on every node (NFS, a FUSE mount of object storage);
 *   <li>the name of an archive or folder Spark shipped to every node: {@code spark-submit
 *       --archives model.zip#tiny} (or {@code SparkContext.addArchive}) unpacks it as {@code
 *       SparkFiles.get("tiny")}; pass {@code tiny}.
 * </ol>
 *
 * Either folder may hold the model itself or, as an archive made of the model's folder does, one
 * subfolder that holds it.
 */
public final class ModelLocation implements Serializable {

    private static final long serialVersionUID = 1L;

    /** The path or archive name as the user gave it; resolved on each executor. */
    private final String location;

    private ModelLocation(String location) {
        this.location = location;
    }

    /**
     * Creates a location.
     *
     * @param location a path on every executor, or the name of an archive Spark distributed
     * @return the location
     * @throws IllegalArgumentException if the location is null or blank
     */
    public static ModelLocation of(String location) {
        if (location == null || location.isBlank()) {
            throw new IllegalArgumentException(
                    "a model location is needed: a model directory's path, or the name of an"
                            + " archive shipped with --archives; got "
                            + (location == null ? "null" : "'" + location + "'"));
        }
        return new ModelLocation(location);
    }

    /**
     * Returns the location as given.
     *
     * @return the path or archive name
     */
    public String getLocation() {
        return location;
    }

    /**
     * Finds the model directory on this JVM (an executor, or the driver in local mode).
     *
     * @return the absolute, normalized path of the folder that holds {@code config.json}
     * @throws IllegalArgumentException if no candidate holds a model, naming each place looked at
     */
    public Path resolve() {
        List<Path> candidates = new ArrayList<>();
        if (location.startsWith("file:")) {
            candidates.add(Path.of(URI.create(location)));
        } else if (!location.contains("://")) {
            candidates.add(Path.of(location));
        }
        if (SparkEnv.get() != null && !location.contains("/")) {
            candidates.add(Path.of(SparkFiles.get(location)));
        }
        for (Path candidate : candidates) {
            Path dir = modelIn(candidate);
            if (dir != null) {
                return dir.toAbsolutePath().normalize();
            }
        }
        throw new IllegalArgumentException(
                "no model directory (a folder with config.json) at '"
                        + location
                        + "': looked at "
                        + candidates.stream()
                                .map(p -> p.toAbsolutePath().toString())
                                .collect(Collectors.toList())
                        + ". Pass a path that every executor can read (local or shared storage),"
                        + " or ship the directory with --archives model.zip#NAME and pass NAME");
    }

    /** The folder itself if it holds config.json, else its only subfolder that does, else null. */
    private static Path modelIn(Path folder) {
        if (!Files.isDirectory(folder)) {
            return null;
        }
        if (Files.isRegularFile(folder.resolve("config.json"))) {
            return folder;
        }
        try (Stream<Path> entries = Files.list(folder)) {
            List<Path> models =
                    entries.filter(d -> Files.isRegularFile(d.resolve("config.json")))
                            .collect(Collectors.toList());
            return models.size() == 1 ? models.get(0) : null;
        } catch (IOException e) {
            return null;
        }
    }

    /** {@inheritDoc} */
    @Override
    public String toString() {
        return location;
    }
}
