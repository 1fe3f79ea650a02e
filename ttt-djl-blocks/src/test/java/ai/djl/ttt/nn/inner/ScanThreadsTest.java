package ai.djl.ttt.nn.inner;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The backward pass's thread count follows OpenMP's wait policy unless the property sets it; a
 * decode step's matrix products get libtorch's threads back inside the narrowed step.
 */
class ScanThreadsTest {

    @AfterEach
    void restore() {
        System.clearProperty(ScanThreads.PROPERTY);
    }

    @Test
    void oneThreadWhenOpenMpThreadsSleepLibtorchsCountWhenTheySpin() {
        assertEquals(1, ScanThreads.backwardThreads("PASSIVE"));
        assertEquals(1, ScanThreads.backwardThreads(" passive "));
        assertEquals(0, ScanThreads.backwardThreads(null), "unset: OpenMP's default, spinning");
        assertEquals(0, ScanThreads.backwardThreads("ACTIVE"));
    }

    @Test
    void thePropertyOverridesThePolicy() {
        System.setProperty(ScanThreads.PROPERTY, "0");
        assertEquals(0, ScanThreads.backwardThreads("PASSIVE"));
        System.setProperty(ScanThreads.PROPERTY, "2");
        assertEquals(2, ScanThreads.backwardThreads(null));
    }

    @Test
    void wideGivesBackLibtorchsThreadsOnlyInsideANarrowedRegion() {
        try (NDManager manager = NDManager.newBaseManager(Device.cpu())) {
            NDArray like = manager.zeros(new Shape(1)); // loads the engine
            int configured = JniUtils.getNumThreads();
            JniUtils.setNumThreads(2);
            try {
                assertEquals(
                        2,
                        ScanThreads.wide(like, JniUtils::getNumThreads),
                        "outside a narrowed region wide changes nothing");
                int[] seen =
                        ScanThreads.run(
                                like,
                                () ->
                                        new int[] {
                                            JniUtils.getNumThreads(),
                                            ScanThreads.wide(like, JniUtils::getNumThreads),
                                            ScanThreads.run(like, JniUtils::getNumThreads),
                                            ScanThreads.wide(
                                                    like,
                                                    () ->
                                                            ScanThreads.wide(
                                                                    like, JniUtils::getNumThreads)),
                                            ScanThreads.wide(
                                                    like,
                                                    () ->
                                                            ScanThreads.run(
                                                                    like,
                                                                    () ->
                                                                            ScanThreads.wide(
                                                                                    like,
                                                                                    JniUtils
                                                                                            ::getNumThreads))),
                                            JniUtils.getNumThreads()
                                        });
                assertArrayEquals(
                        new int[] {1, 2, 1, 2, 2, 1},
                        seen,
                        "narrowed; widened; run inside run; wide inside wide; wide inside run"
                                + " inside wide; narrowed again");
                assertEquals(2, JniUtils.getNumThreads(), "restored after the region");
                assertEquals(2, ScanThreads.wide(like, JniUtils::getNumThreads));
            } finally {
                JniUtils.setNumThreads(configured);
            }
        }
    }

    @Test
    void anExceptionInsideWideRestoresTheNarrowedCount() {
        try (NDManager manager = NDManager.newBaseManager(Device.cpu())) {
            NDArray like = manager.zeros(new Shape(1));
            int configured = JniUtils.getNumThreads();
            JniUtils.setNumThreads(2);
            try {
                int[] after =
                        ScanThreads.run(
                                like,
                                () -> {
                                    assertThrows(
                                            IllegalStateException.class,
                                            () ->
                                                    ScanThreads.wide(
                                                            like,
                                                            () -> {
                                                                throw new IllegalStateException(
                                                                        "fails");
                                                            }));
                                    return new int[] {
                                        JniUtils.getNumThreads(),
                                        ScanThreads.wide(like, JniUtils::getNumThreads)
                                    };
                                });
                assertArrayEquals(new int[] {1, 2}, after);
                assertEquals(2, JniUtils.getNumThreads());
            } finally {
                JniUtils.setNumThreads(configured);
            }
        }
    }
}
