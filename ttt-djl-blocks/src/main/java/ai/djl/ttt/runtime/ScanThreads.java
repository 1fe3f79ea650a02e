package ai.djl.ttt.runtime;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDScope;
import ai.djl.nn.core.Linear;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import java.util.function.IntFunction;
import java.util.function.Supplier;

/**
 * Runs the sequential part of the scan with a single intra-op thread on CPU, split over rows when
 * nothing records gradients.
 *
 * <p>Why: each step of the scan is a few dozen small ops on arrays of 10⁴–10⁵ elements. libtorch
 * splits element-wise ops above 32768 elements across its OpenMP threads, and waking the sleeping
 * threads (with {@code OMP_WAIT_POLICY=PASSIVE}, which a shared VM needs) costs more than the op:
 * on a 2-vCPU machine a {@code (12, 16, 256)} multiply took 6.5 µs on one thread and 16.5 µs on
 * two, and a TTT-MLP layer forward at T = 2048 took 452 ms with one thread and 1007 ms with two.
 * The large batched ops around the scan (projections, hoisted products) keep all threads.
 *
 * <p>Rows (heads × sequences) are independent in the inner loop, so without autograd the loop is
 * also split into slices of rows, one per libtorch thread, each slice on its own Java thread with
 * one intra-op thread: the cores then run the sequential small ops side by side instead of waking
 * each other up for every op. With autograd recording (training) the loop stays on the caller's
 * thread, where the graph is recorded. {@value #PARALLEL_PROPERTY}{@code =false} turns the split
 * off.
 *
 * <p>The backward pass of a scan replays the same small ops in reverse, so under {@code
 * OMP_WAIT_POLICY=PASSIVE} {@link #backward} runs it on one thread too: a TTT-MLP layer's forward +
 * backward at the 125m shape, T = 2048, went from 1.8–2.0 s to 1.25–1.45 s on 2 vCPUs, a 4-block C
 * = 256 TTT-MLP model's training step (B = 4, T = 512) from 2.6 s to 1.8–2.1 s. With spinning
 * OpenMP threads (the default policy) two threads are faster for the backward, and it keeps
 * libtorch's count ({@link #backwardThreads}); {@value #PROPERTY} overrides both.
 *
 * <p>Inside a decode step, which {@link #run} narrows as a whole, the large matrix-vector products
 * get libtorch's count back through {@link #wide}: they are bound by memory bandwidth, which one
 * core does not saturate; the largest, the model's head, is split over Java threads ({@link
 * #product}).
 *
 * <p>The thread count is libtorch's ({@code at::set_num_threads}); with the OpenMP backend it binds
 * the calling thread's parallel regions, and it is restored after the scan. The system property
 * {@value #PROPERTY} sets the count used inside the scan (default 1; 0 leaves libtorch's setting
 * alone). Only the number of threads changes, never a result (the head's {@link #product} also
 * splits one matrix product into row blocks, each output still the same row's dot product).
 */
public final class ScanThreads {

    /** The system property naming the intra-op threads of the scan (0: unchanged). */
    static final String PROPERTY = "ai.djl.ttt.scan_threads";

    /** The system property that turns the split of the loop over rows off ({@code false}). */
    static final String PARALLEL_PROPERTY = "ai.djl.ttt.scan_parallel";

    /**
     * Below this many elements per step the split costs more than it gains: each slice runs every
     * op, so the fixed cost per op doubles. Measured on 2 vCPUs, 125m shape, T = 2048: TTT-MLP (49k
     * elements per step) 350 → 270 ms, TTT-Linear (12k) 160 → 190 ms.
     */
    private static final long MIN_SPLIT_ELEMENTS = 32768;

    /** The system property that overrides {@link #MIN_SPLIT_ELEMENTS} (tests split tiny layers). */
    static final String MIN_SPLIT_PROPERTY = "ai.djl.ttt.scan_split_min";

    private static final ExecutorService WORKERS =
            Executors.newCachedThreadPool(
                    r -> {
                        Thread t = new Thread(r, "ttt-scan");
                        t.setDaemon(true);
                        return t;
                    });

    /** How many times {@link #run(NDArray, int, IntFunction, Function)} ran more than one slice. */
    private static final AtomicLong SPLIT_RUNS = new AtomicLong();

    /** libtorch's thread count before {@link #run} narrowed it on this thread, if it did. */
    private static final ThreadLocal<Integer> NARROWED_FROM = new ThreadLocal<>();

    private ScanThreads() {}

    /**
     * Returns into how many slices of rows (heads × sequences, which the inner loop treats
     * independently) the loop can be split, one thread each: libtorch's thread count on CPU under
     * PyTorch when no gradient is recorded (training keeps one autograd graph on one thread) and
     * the steps are large enough, else 1.
     *
     * @param like an array of the computation
     * @param rows the rows {@code N = B·H}
     * @param elementsPerStep the size of the largest activation of one step, all rows
     * @return the number of slices, at least 1
     */
    public static int slices(NDArray like, long rows, long elementsPerStep) {
        if (!Boolean.parseBoolean(System.getProperty(PARALLEL_PROPERTY, "true"))
                || elementsPerStep < Long.getLong(MIN_SPLIT_PROPERTY, MIN_SPLIT_ELEMENTS)
                || !onTorchCpu(like)
                || JniUtils.isGradMode()) {
            return 1;
        }
        return (int) Math.max(1, Math.min(rows, JniUtils.getNumThreads()));
    }

    /**
     * Runs {@code slices} pieces of work, each on its own thread with one intra-op thread, slice 0
     * on the calling thread. What each piece returns is handed to the caller's {@link NDScope}.
     *
     * @param like an array of the computation
     * @param slices how many pieces ({@link #slices})
     * @param work the piece for slice {@code i}
     * @param arrays the arrays of a piece's result
     * @param <T> the result type
     * @return the results, in slice order
     */
    public static <T> List<T> run(
            NDArray like, int slices, IntFunction<T> work, Function<T, List<NDArray>> arrays) {
        if (slices == 1) {
            return List.of(run(like, () -> work.apply(0)));
        }
        SPLIT_RUNS.incrementAndGet();
        List<Future<T>> futures = new ArrayList<>();
        for (int i = 1; i < slices; i++) {
            int slice = i;
            futures.add(WORKERS.submit(() -> inWorker(() -> scoped(work, slice, arrays))));
        }
        List<T> results = new ArrayList<>();
        RuntimeException failure = null;
        try {
            results.add(run(like, () -> scoped(work, 0, arrays)));
        } catch (RuntimeException e) {
            failure = e;
        }
        // every worker is waited for, even after a failure: they read the caller's arrays, which
        // the caller may close as soon as this returns
        for (Future<T> f : futures) {
            try {
                results.add(awaitUninterruptibly(f));
            } catch (ExecutionException e) {
                if (failure == null) {
                    failure =
                            e.getCause() instanceof RuntimeException r
                                    ? r
                                    : new IllegalStateException(e.getCause());
                }
            }
        }
        if (failure != null) {
            for (T result : results) {
                arrays.apply(result).forEach(NDArray::close);
            }
            throw failure;
        }
        for (T result : results) {
            for (NDArray a : arrays.apply(result)) {
                NDScope.register(a);
            }
        }
        return results;
    }

    /**
     * Returns how many times work was split over more than one slice (threads) since the JVM
     * started: lets a test show that the split it compares with one loop really ran.
     *
     * @return the count of split runs
     */
    public static long splitRuns() {
        return SPLIT_RUNS.get();
    }

    /** A worker's result, waiting through interrupts (the flag is set again after). */
    private static <T> T awaitUninterruptibly(Future<T> future) throws ExecutionException {
        boolean interrupted = false;
        try {
            while (true) {
                try {
                    return future.get();
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** A piece in its own scope: its intermediates are closed, its results kept. */
    private static <T> T scoped(IntFunction<T> work, int slice, Function<T, List<NDArray>> arrays) {
        try (NDScope scope = new NDScope()) {
            T result = work.apply(slice);
            for (NDArray a : arrays.apply(result)) {
                NDScope.unregister(a);
            }
            scope.suppressNotUsedWarning();
            return result;
        }
    }

    /** A worker: one intra-op thread and no autograd, as the caller has (see {@link #slices}). */
    private static <T> T inWorker(Supplier<T> work) {
        int threads = JniUtils.getNumThreads();
        boolean grad = JniUtils.isGradMode();
        JniUtils.setNumThreads(1);
        JniUtils.setGradMode(false);
        try {
            return work.get();
        } finally {
            JniUtils.setGradMode(grad);
            JniUtils.setNumThreads(threads);
        }
    }

    /**
     * Returns whether nothing records gradients for this computation, as far as the engine tells:
     * PyTorch with grad mode off. Other engines answer {@code false}.
     *
     * @param like an array of the computation
     * @return true if in-place updates cannot break a backward pass
     */
    public static boolean recordsNoGradient(NDArray like) {
        return onTorch(like) && !JniUtils.isGradMode();
    }

    private static boolean onTorch(NDArray like) {
        return "PyTorch".equals(like.getManager().getEngine().getEngineName());
    }

    private static boolean onTorchCpu(NDArray like) {
        return onTorch(like) && Device.Type.CPU.equals(like.getDevice().getDeviceType());
    }

    /**
     * Runs {@code collector.backward(loss)} with the scan's intra-op thread count on a PyTorch CPU
     * (see the class comment), restoring libtorch's count afterwards. Elsewhere it is just the
     * backward pass. The gradients are the same either way.
     *
     * @param collector the gradient collector that recorded the forward pass
     * @param loss the scalar to differentiate
     */
    public static void backward(GradientCollector collector, NDArray loss) {
        run(
                loss,
                backwardThreads(System.getenv("OMP_WAIT_POLICY")),
                () -> {
                    collector.backward(loss);
                    return null;
                });
    }

    /**
     * The intra-op threads of a backward pass: the system property {@value #PROPERTY} if set;
     * otherwise one thread when OpenMP's threads sleep between ops ({@code
     * OMP_WAIT_POLICY=PASSIVE}, where waking them costs more than the backward's small ops: a
     * TTT-MLP layer's forward + backward at the 125m shape, T = 2048, took 1.1–1.3 s on one thread
     * and 1.8 s on two), and libtorch's own count when they spin (OpenMP's default policy, where
     * two threads make the small ops cheaper: 0.83–1.09 s on two threads against 1.21–1.32 s on
     * one; TTT-Linear 304–344 against 415–433 ms; 2 vCPUs).
     *
     * @param waitPolicy the value of {@code OMP_WAIT_POLICY}, or {@code null} if unset
     * @return the thread count, 0 for libtorch's
     */
    static int backwardThreads(String waitPolicy) {
        Integer set = Integer.getInteger(PROPERTY);
        if (set != null) {
            return set;
        }
        return waitPolicy != null && "PASSIVE".equalsIgnoreCase(waitPolicy.trim()) ? 1 : 0;
    }

    /**
     * Runs the work with the scan's thread count when the array lives on a CPU under PyTorch. The
     * scan uses it for its loop; {@code CausalLm} and {@code TttLayer} use it for a decode step
     * (one token per row), which is all small ops and matrix-vector products: the 125m TTT-Linear
     * model decoded a token in 50 ms on one thread against 56 ms on two (2 vCPUs, PASSIVE).
     *
     * @param like an array of the computation (chooses engine and device)
     * @param work the work
     * @param <T> the result type
     * @return the work's result
     */
    public static <T> T run(NDArray like, Supplier<T> work) {
        return run(like, Integer.getInteger(PROPERTY, 1), work);
    }

    /**
     * Runs a large matrix product with libtorch's own thread count when it is called inside a
     * region that {@link #run} narrowed (a decode step), and as it is otherwise. A decode step's
     * matrix-vector products read every weight once and are bound by memory bandwidth, which one
     * core does not saturate: the 125m model's {@code lm_head} (32000 × 768) took 7.0 ms on one
     * thread and 3.3 ms on two (3.5 ms including the switch), a SwiGLU projection (2048 × 768) 549
     * and 441 µs (2 vCPUs, PASSIVE). The small ops around them stay on one thread.
     *
     * @param like an array of the computation (chooses engine and device)
     * @param work the product
     * @param <T> the result type
     * @return the work's result
     */
    public static <T> T wide(NDArray like, Supplier<T> work) {
        Integer outer = NARROWED_FROM.get();
        if (outer == null || !onTorchCpu(like)) {
            return work.get();
        }
        return run(like, outer, work);
    }

    /**
     * Returns {@code x Wᵀ} ({@code (..., in) → (..., out)}) for a large weight {@code (out, in)},
     * such as the model's head. Inside a decode step (a region {@link #run} narrowed) on a PyTorch
     * CPU with no gradient recorded, the weight's rows are split into blocks, one per thread
     * libtorch had before the narrowing ({@link #productBlocks}), whose products run side by side
     * (the first on the calling thread with the scan's thread count, the others on workers with one
     * intra-op thread each) and are concatenated. Elsewhere it runs as {@link #wide} runs it. Each
     * output is the dot product of the same row and input either way; only the kernel call that
     * computes it differs.
     *
     * <p>Why: a one-row product reads every weight once and does two flops per weight, so its speed
     * is the rate at which memory is read. On a 2-vCPU AMD EPYC VM libtorch's MKL ran it on one
     * core whatever its thread count: the 125m model's {@code lm_head} (32000 × 768) took 8.6–8.7
     * ms on one or two intra-op threads, and 5.1–5.2 ms as two blocks side by side; whole decode
     * steps, alternating in one JVM, went 58.1 → 54.3, 70.4 → 69.0 and 72.9 → 67.6 ms (TTT-Linear),
     * 74.5 → 69.6, 90.8 → 81.6 and 95.6 → 93.0 ms (TTT-MLP) in three runs. The layers' smaller
     * products (768 × 768, 2048 × 768) gained in isolation but not inside a step, where the worker
     * has gone to sleep between them: the hand-over cost what the second core saved, so they keep
     * {@link #wide}.
     *
     * @param x the input {@code (..., in)}
     * @param weight the weight {@code (out, in)}
     * @return the product {@code (..., out)}
     */
    public static NDArray product(NDArray x, NDArray weight) {
        long rows = weight.getShape().get(0);
        int blocks = productBlocks(x, rows);
        if (blocks == 1) {
            return wide(x, () -> Linear.linear(x, weight).head());
        }
        long[] starts = new long[blocks - 1]; // blocks of rows·i/n rows: any row count
        for (int i = 1; i < blocks; i++) {
            starts[i - 1] = rows * i / blocks;
        }
        try (NDList rowBlocks = weight.split(starts, 0)) {
            List<NDArray> parts =
                    run(x, blocks, i -> Linear.linear(x, rowBlocks.get(i)).head(), List::of);
            NDArray result = NDArrays.concat(new NDList(parts), -1);
            parts.forEach(NDArray::close);
            return result;
        }
    }

    /**
     * Into how many blocks of rows {@link #product} splits a weight of {@code rows} rows: the
     * thread count libtorch had before a decode step narrowed it, on a PyTorch CPU with no gradient
     * recorded and at least one row per block; 1 (the whole product) otherwise.
     */
    static int productBlocks(NDArray x, long rows) {
        Integer outer = NARROWED_FROM.get();
        // set only where run narrowed libtorch's count, so at least 2 (see run)
        if (outer == null || rows < outer || !onTorchCpu(x) || JniUtils.isGradMode()) {
            return 1;
        }
        return outer;
    }

    private static <T> T run(NDArray like, int wanted, Supplier<T> work) {
        if (wanted <= 0 || !onTorchCpu(like)) {
            return work.get();
        }
        int previous = JniUtils.getNumThreads();
        if (previous == wanted) {
            return work.get();
        }
        Integer outer = NARROWED_FROM.get();
        JniUtils.setNumThreads(wanted);
        remember(wanted < previous ? Integer.valueOf(previous) : null);
        try {
            return work.get();
        } finally {
            try {
                JniUtils.setNumThreads(previous);
            } finally {
                remember(outer);
            }
        }
    }

    private static void remember(Integer narrowedFrom) {
        if (narrowedFrom == null) {
            NARROWED_FROM.remove();
        } else {
            NARROWED_FROM.set(narrowedFrom);
        }
    }
}
