package ai.djl.ttt.nn.inner;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.pytorch.jni.JniUtils;
import java.util.function.Supplier;

/**
 * Runs the sequential part of the scan with a single intra-op thread on CPU.
 *
 * <p>Why: each step of the scan is a few dozen small ops on arrays of 10⁴–10⁵ elements. libtorch
 * splits element-wise ops above 32768 elements across its OpenMP threads, and waking the sleeping
 * threads (with {@code OMP_WAIT_POLICY=PASSIVE}, which a shared VM needs) costs more than the op:
 * on a 2-vCPU machine a {@code (12, 16, 256)} multiply took 6.5 µs on one thread and 16.5 µs on
 * two, and a TTT-MLP layer forward at T = 2048 took 452 ms with one thread and 1007 ms with two.
 * The large batched ops around the scan (projections, hoisted products) keep all threads.
 *
 * <p>The thread count is libtorch's ({@code at::set_num_threads}); with the OpenMP backend it binds
 * the calling thread's parallel regions, and it is restored after the scan. The system property
 * {@value #PROPERTY} sets the count used inside the scan (default 1; 0 leaves libtorch's setting
 * alone). Only the number of threads changes, never a result.
 */
final class ScanThreads {

    /** The system property naming the intra-op threads of the scan (0: unchanged). */
    static final String PROPERTY = "ai.djl.ttt.scan_threads";

    private ScanThreads() {}

    /**
     * Runs the work with the scan's thread count when the array lives on a CPU under PyTorch.
     *
     * @param like an array of the computation (chooses engine and device)
     * @param work the sequential work
     * @param <T> the result type
     * @return the work's result
     */
    static <T> T run(NDArray like, Supplier<T> work) {
        int wanted = Integer.getInteger(PROPERTY, 1);
        if (wanted <= 0
                || !"PyTorch".equals(like.getManager().getEngine().getEngineName())
                || !Device.Type.CPU.equals(like.getDevice().getDeviceType())) {
            return work.get();
        }
        int previous = JniUtils.getNumThreads();
        if (previous == wanted) {
            return work.get();
        }
        JniUtils.setNumThreads(wanted);
        try {
            return work.get();
        } finally {
            JniUtils.setNumThreads(previous);
        }
    }
}
