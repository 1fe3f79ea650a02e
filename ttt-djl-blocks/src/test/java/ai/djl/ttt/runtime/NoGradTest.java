package ai.djl.ttt.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.EngineException;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.ttt.GradOnThread;
import org.junit.jupiter.api.Test;

/**
 * {@link NoGrad} turns autograd off on its thread and restores it, as a thread of a serving pool
 * needs (libtorch's grad mode is per thread and on by default there).
 */
class NoGradTest {

    /** Runs {@code work} on a fresh thread whose grad mode is on, as libtorch's default is. */
    private static void onAThreadWithGradOn(Runnable work) throws Exception {
        GradOnThread.call(
                () -> {
                    work.run();
                    return null;
                });
    }

    @Test
    void aParameterCanBeWrittenInPlaceInsideAndTheModeIsBackAfter() throws Exception {
        onAThreadWithGradOn(
                () -> {
                    try (NDManager manager = NDManager.newBaseManager()) {
                        NDArray w = manager.ones(new Shape(3, 3));
                        w.setRequiresGradient(true);
                        // what loading weights or an optimizer step does to a parameter
                        EngineException refused =
                                assertThrows(EngineException.class, () -> w.addi(1));
                        assertTrue(refused.getMessage().contains("in-place"), refused.getMessage());
                        NoGrad.run(manager, () -> w.addi(1));
                        assertEquals(18f, w.sum().getFloat());
                        assertTrue(JniUtils.isGradMode(), "the thread's mode is restored");
                        assertThrows(EngineException.class, () -> w.addi(1));
                    }
                });
    }

    @Test
    void theModeIsRestoredAfterAFailureAndAnOffModeStaysOff() throws Exception {
        onAThreadWithGradOn(
                () -> {
                    try (NDManager manager = NDManager.newBaseManager()) {
                        IllegalStateException e =
                                assertThrows(
                                        IllegalStateException.class,
                                        () ->
                                                NoGrad.run(
                                                        manager,
                                                        () -> {
                                                            throw new IllegalStateException("x");
                                                        }));
                        assertEquals("x", e.getMessage());
                        assertTrue(JniUtils.isGradMode());
                        JniUtils.setGradMode(false);
                        try (NoGrad outer = NoGrad.open(manager)) {
                            NoGrad.run(manager, () -> null);
                            assertFalse(JniUtils.isGradMode());
                        }
                        assertFalse(JniUtils.isGradMode(), "off before, off after");
                    }
                });
    }

    @Test
    void closingOnAnotherThreadLeavesThatThreadAlone() throws Exception {
        NoGrad[] opened = new NoGrad[1];
        try (NDManager manager = NDManager.newBaseManager()) {
            onAThreadWithGradOn(() -> opened[0] = NoGrad.open(manager));
            onAThreadWithGradOn(
                    () -> {
                        JniUtils.setGradMode(false);
                        opened[0].close(); // would restore "on" if it touched this thread
                        assertFalse(JniUtils.isGradMode());
                    });
        }
    }
}
