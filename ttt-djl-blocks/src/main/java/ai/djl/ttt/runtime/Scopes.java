package ai.djl.ttt.runtime;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import java.util.List;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * Runs a computation in its own {@link NDScope} so that every intermediate array is freed when it
 * ends, whatever manager DJL attached it to.
 *
 * <p>The arrays the computation returns survive: they are attached to the given owner (the caller's
 * data manager, never the parameters') and handed to the enclosing scope, if any, as if they had
 * been created there. So nested blocks behave like single DJL ops.
 */
public final class Scopes {

    private Scopes() {}

    /**
     * Runs {@code work} in a new scope.
     *
     * @param owner the manager that owns the results
     * @param work the computation
     * @param results the arrays of the result that must outlive the scope
     * @param <T> the result type
     * @return the result
     */
    public static <T> T run(NDManager owner, Supplier<T> work, Function<T, List<NDArray>> results) {
        T result;
        List<NDArray> kept;
        try (NDScope scope = new NDScope()) {
            result = work.get();
            kept = results.apply(result);
            for (NDArray a : kept) {
                NDScope.unregister(a);
                a.attach(owner);
            }
            scope.suppressNotUsedWarning();
        }
        for (NDArray a : kept) {
            NDScope.register(a);
        }
        return result;
    }

    /**
     * Closes the arrays of a value that a list does not carry on: after a state was turned into its
     * {@code NDList} form for DJL's protocol, the state object is dropped, and any of its arrays
     * the list holds no handle to (decoded tokens' gradient factors, handles the list replaced by
     * formed sums) would otherwise stay in the manager until it closes.
     *
     * @param arrays the value's arrays
     * @param kept the list that is returned
     */
    public static void closeAllBut(List<NDArray> arrays, NDList kept) {
        for (NDArray a : arrays) {
            if (kept.stream().noneMatch(k -> k == a)) {
                a.close();
            }
        }
    }
}
