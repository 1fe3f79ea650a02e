package ai.djl.ttt.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.core.Linear;
import ai.djl.pytorch.jni.JniUtils;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The backward pass's thread count follows OpenMP's wait policy unless the property sets it; a
 * decode step's matrix products get libtorch's threads back inside the narrowed step, and the
 * head's product is split over them with the same result.
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

    @Test
    void productSplitsTheRowsInsideADecodeStepAndGivesTheSameRowsBack() {
        try (NDManager params = NDManager.newBaseManager(Device.cpu());
                NDManager data = NDManager.newBaseManager(Device.cpu())) {
            // 7 rows over 3 threads: blocks of 2, 2 and 3 rows, so the last block differs
            NDArray weight = params.randomNormal(new Shape(7, 5));
            NDArray x = data.randomNormal(new Shape(2, 1, 5));
            NDArray expected = Linear.linear(x, weight).head();
            int configured = JniUtils.getNumThreads();
            boolean grad = JniUtils.isGradMode();
            JniUtils.setNumThreads(3);
            JniUtils.setGradMode(false); // libtorch's grad mode is per thread, on by default
            try {
                int paramArrays = params.getManagedArrays().size();
                int dataArrays = data.getManagedArrays().size();
                assertEquals(3, ScanThreads.run(x, () -> ScanThreads.productBlocks(x, 7)));
                NDArray split = ScanThreads.run(x, () -> ScanThreads.product(x, weight));
                assertEquals(new Shape(2, 1, 7), split.getShape());
                assertTrue(expected.allClose(split, 1e-6, 1e-6, false), "the same rows");
                assertEquals(paramArrays, params.getManagedArrays().size(), "blocks closed");
                assertEquals(dataArrays + 1, data.getManagedArrays().size(), "parts closed");
                assertEquals(3, JniUtils.getNumThreads(), "threads restored");
                assertEquals(1, ScanThreads.productBlocks(x, 7), "outside a decode step");
                assertEquals(
                        1,
                        ScanThreads.run(x, () -> ScanThreads.productBlocks(x, 2)),
                        "fewer rows than threads");
                JniUtils.setGradMode(true);
                assertEquals(
                        1,
                        ScanThreads.run(x, () -> ScanThreads.productBlocks(x, 7)),
                        "autograd recording");
                NDArray whole = ScanThreads.product(x, weight); // outside a decode step
                assertTrue(expected.allClose(whole, 1e-6, 1e-6, false));
            } finally {
                JniUtils.setGradMode(grad);
                JniUtils.setNumThreads(configured);
            }
        }
    }

    @Test
    void aFailingSliceWaitsForTheOthersAndClosesWhatTheyMade() {
        try (NDManager data = NDManager.newBaseManager(Device.cpu())) {
            NDArray like = data.zeros(new Shape(1));
            int before = data.getManagedArrays().size();
            boolean[] otherFinished = new boolean[1];
            IllegalStateException e =
                    assertThrows(
                            IllegalStateException.class,
                            () ->
                                    ScanThreads.run(
                                            like,
                                            2,
                                            slice -> {
                                                if (slice == 0) {
                                                    throw new IllegalStateException("slice 0");
                                                }
                                                sleep(200);
                                                otherFinished[0] = true;
                                                return like.add(1);
                                            },
                                            List::of));
            assertEquals("slice 0", e.getMessage());
            assertTrue(otherFinished[0], "the worker finished before the failure was thrown");
            assertEquals(before, data.getManagedArrays().size(), "the worker's result closed");
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
