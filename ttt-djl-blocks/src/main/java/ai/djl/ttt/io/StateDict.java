package ai.djl.ttt.io;

import ai.djl.MalformedModelException;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;

/**
 * Named tensors read from a PyTorch-style state dict file: {@code .safetensors} or numpy {@code
 * .npz} (through DJL's {@link NDList#decode}). Names are kept exactly as in the file, e.g. {@code
 * model.layers.0.seq_modeling_block.W1}.
 *
 * <p>The tensors belong to a sub-manager that {@link #close()} releases; views made with {@link
 * #withPrefix} and {@link #filter} share it and need no closing of their own.
 *
 * <p>Limits of DJL 0.36.0's decoder: a file must be under 2 GB and numpy arrays must be in C order.
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
        NDManager manager = parent.newSubManager();
        NDList list;
        try (InputStream is = Files.newInputStream(file)) {
            list = NDList.decode(manager, is);
        } catch (IOException e) {
            manager.close();
            throw e;
        } catch (RuntimeException e) {
            manager.close();
            throw new MalformedModelException(
                    file + " is not a readable .safetensors or .npz state dict: " + e.getMessage(),
                    e);
        }
        Map<String, NDArray> tensors = new LinkedHashMap<>();
        for (NDArray array : list) {
            String name = array.getName();
            if (name == null || tensors.put(name, array) != null) {
                manager.close();
                throw new MalformedModelException(
                        file + ": every tensor needs a unique name, got " + name);
            }
        }
        return new StateDict(manager, tensors, file.toString(), true);
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
