package ai.djl.ttt;

import ai.djl.engine.Engine;
import ai.djl.pytorch.jni.JniUtils;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * Runs test code on a fresh thread whose libtorch grad mode is on: the default on every thread but
 * the one that loaded the engine (a serving pool's, an executor's), set explicitly so that the test
 * does not depend on which thread loaded it.
 */
public final class GradOnThread {

    private GradOnThread() {}

    /**
     * Calls {@code work} on a new thread with grad mode on and returns its result; what it throws
     * is rethrown here.
     *
     * @param work the test code
     * @param <T> the result type
     * @return what {@code work} returns
     * @throws Exception what {@code work} threw
     */
    public static <T> T call(Callable<T> work) throws Exception {
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try {
            return pool.submit(
                            () -> {
                                Engine.getEngine("PyTorch"); // loads libtorch if no test did
                                JniUtils.setGradMode(true);
                                return work.call();
                            })
                    .get();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof Error error) {
                throw error; // an assertion failed there
            }
            throw (Exception) e.getCause();
        } finally {
            pool.shutdownNow();
        }
    }
}
