package ai.djl.ttt.io;

import ai.djl.MalformedModelException;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ttt.runtime.BoundedText;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

/**
 * Named tensors read from a PyTorch-style state dict file: {@code .safetensors} or numpy {@code
 * .npz} (through DJL's {@link NDList#decode}). Names are kept exactly as in the file, e.g. {@code
 * model.layers.0.seq_modeling_block.W1}.
 *
 * <p>The tensors belong to a sub-manager that {@link #close()} releases; views made with {@link
 * #withPrefix} and {@link #filter} share it and need no closing of their own.
 *
 * <p>Limits of DJL 0.36.0's decoder: a file must be under 2 GB and numpy arrays must be in C order.
 * The headers are read and checked first ({@link TensorHeaders}): nothing is allocated for a size
 * the file does not hold.
 */
public final class StateDict implements AutoCloseable {

    private final NDManager manager;
    private final Map<String, NDArray> tensors;
    private final String source;
    private final boolean owner;

    private StateDict(
            NDManager manager, Map<String, NDArray> tensors, String source, boolean owner) {
        this.manager = manager;
        this.tensors = Collections.unmodifiableMap(tensors);
        this.source = source;
        this.owner = owner;
    }

    /**
     * Reads a {@code .safetensors} or {@code .npz} file.
     *
     * @param parent the manager under which the tensors' sub-manager is created
     * @param file the file
     * @return the state dict
     * @throws IOException if the file cannot be read
     * @throws MalformedModelException if the content is not a readable safetensors/npz state dict
     */
    public static StateDict load(NDManager parent, Path file)
            throws IOException, MalformedModelException {
        return load(parent, TensorHeaders.read(file));
    }

    /**
     * Reads the tensors of a file whose headers were read and checked: only what the headers
     * declare is allocated (an npz entry is read no further than its declared size).
     *
     * @param parent the manager under which the tensors' sub-manager is created
     * @param headers the file's checked headers ({@link TensorHeaders#read})
     * @return the state dict
     * @throws IOException if the file cannot be read
     * @throws MalformedModelException if the content does not match its headers
     */
    public static StateDict load(NDManager parent, TensorHeaders headers)
            throws IOException, MalformedModelException {
        Path file = headers.getFile();
        NDManager manager = parent.newSubManager();
        Map<String, NDArray> tensors = new LinkedHashMap<>();
        try {
            for (NDArray array : decode(manager, file, headers)) {
                String name = array.getName();
                if (name == null || tensors.put(name, array) != null) {
                    throw new MalformedModelException(
                            file
                                    + ": every tensor needs a unique name, got "
                                    + BoundedText.of(name));
                }
                TensorHeaders.Entry declared = headers.entries().get(name);
                if (declared == null
                        || !declared.shape().equals(array.getShape())
                        || declared.dataType() != array.getDataType()) {
                    throw new MalformedModelException(
                            file
                                    + ": tensor '"
                                    + BoundedText.of(name)
                                    + "' differs from its header");
                }
            }
        } catch (IOException | MalformedModelException e) {
            manager.close();
            throw e;
        } catch (RuntimeException | OutOfMemoryError e) {
            manager.close();
            throw new MalformedModelException(
                    file
                            + " is not a readable .safetensors or .npz state dict: "
                            + BoundedText.of(e.getMessage()),
                    e);
        }
        return new StateDict(manager, tensors, file.toString(), true);
    }

    private static NDList decode(NDManager manager, Path file, TensorHeaders headers)
            throws IOException, MalformedModelException {
        byte[] magic = new byte[9];
        try (InputStream is = Files.newInputStream(file)) {
            is.readNBytes(magic, 0, magic.length);
        }
        boolean zipMagic = magic[0] == 'P' && magic[1] == 'K';
        if (magic[8] == '{') {
            if (zipMagic) {
                // DJL's decoder sniffs "PK" before anything else (ttt-djl's writer pads around it)
                throw new MalformedModelException(
                        file
                                + ": a safetensors header of "
                                + (((magic[1] & 0xFF) << 8) | (magic[0] & 0xFF))
                                + " (mod 65536) bytes starts with the bytes \"PK\", which DJL's"
                                + " decoder reads as an npz archive; re-save the file with a"
                                + " header padded by 8 more spaces");
            }
            try (InputStream all = Files.newInputStream(file)) {
                return NDList.decode(manager, all);
            }
        }
        if (!zipMagic) {
            try (InputStream all = Files.newInputStream(file)) {
                return NDList.decode(manager, all);
            }
        }
        // npz: each entry read through a stream that ends at its checked size, so a zip bomb is
        // never inflated past what its header declared
        NDList list = new NDList();
        try (ZipFile zip = new ZipFile(file.toFile())) {
            for (ZipEntry entry : Collections.list(zip.entries())) {
                try (InputStream in = TensorHeaders.openNpyEntry(zip, entry, entry.getSize())) {
                    NDArray array = NDList.decode(manager, in).singletonOrThrow();
                    String name = entry.getName();
                    if (!name.startsWith("arr_")) {
                        array.setName(name.substring(0, name.length() - 4));
                    }
                    list.add(array);
                }
            }
        }
        return list;
    }

    /**
     * Wraps tensors that are already in memory (for instance a model's own parameters).
     *
     * @param manager the manager that owns the arrays (closed by {@link #close()})
     * @param tensors the named tensors
     * @param source a description for error messages
     * @return the state dict
     */
    public static StateDict of(NDManager manager, Map<String, NDArray> tensors, String source) {
        return new StateDict(manager, new LinkedHashMap<>(tensors), source, true);
    }

    /**
     * Returns the tensors whose name starts with {@code prefix}, with the prefix removed: the state
     * dict of one sub-module, e.g. {@code withPrefix("model.layers.0.seq_modeling_block.")}.
     *
     * @param prefix the prefix ("" for all)
     * @return a view sharing the arrays
     */
    public StateDict withPrefix(String prefix) {
        Map<String, NDArray> sub = new LinkedHashMap<>();
        tensors.forEach(
                (name, array) -> {
                    if (name.startsWith(prefix)) {
                        sub.put(name.substring(prefix.length()), array);
                    }
                });
        return new StateDict(manager, sub, source + " [prefix '" + prefix + "']", false);
    }

    /**
     * Returns the tensors whose name passes a test.
     *
     * @param keep the test
     * @return a view sharing the arrays
     */
    public StateDict filter(Predicate<String> keep) {
        Map<String, NDArray> sub = new LinkedHashMap<>();
        tensors.forEach(
                (name, array) -> {
                    if (keep.test(name)) {
                        sub.put(name, array);
                    }
                });
        return new StateDict(manager, sub, source, false);
    }

    /**
     * Returns the names, in file order.
     *
     * @return the names
     */
    public Set<String> names() {
        return tensors.keySet();
    }

    /**
     * Returns whether a tensor exists.
     *
     * @param name the name
     * @return true if present
     */
    public boolean contains(String name) {
        return tensors.containsKey(name);
    }

    /**
     * Returns a tensor.
     *
     * @param name the name
     * @return the tensor
     * @throws IllegalArgumentException if there is no such tensor (the message names the file)
     */
    public NDArray get(String name) {
        NDArray array = tensors.get(name);
        if (array == null) {
            throw new IllegalArgumentException("no tensor '" + name + "' in " + source);
        }
        return array;
    }

    /**
     * Returns where the tensors came from, for messages.
     *
     * @return the file (and prefix) description
     */
    public String getSource() {
        return source;
    }

    /** Releases the tensors (only the dict returned by {@link #load} or {@link #of} owns them). */
    @Override
    public void close() {
        if (owner) {
            manager.close();
        }
    }
}
