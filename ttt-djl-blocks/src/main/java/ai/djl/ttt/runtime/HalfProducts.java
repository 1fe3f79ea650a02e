package ai.djl.ttt.runtime;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.core.Linear;

/**
 * The products of {@link Precision#FLOAT16} inference: float16 copies of weights, made once, and
 * {@code x Wᵀ} through them with the input cast to float16 and the result cast back.
 *
 * <p>Which products take this path ({@link #applies}): inference only (never while training), and
 * on a CPU only one-row products ({@code B·T = 1}, a decode step at batch 1). libtorch's float16
 * matrix-vector kernel reads half the bytes of float32's, but on CPUs without float16 matrix units
 * its float16 matrix-matrix product is a naive loop (a 2048³ product took 42 s against float32's
 * 0.10 s on a 2-vCPU VM), so prefill and batched decode keep the float32 weights there. On a GPU
 * every inference product takes the float16 path.
 */
public final class HalfProducts {

    private HalfProducts() {}

    /**
     * Returns whether a product of {@code x} takes the float16 path when float16 copies exist.
     *
     * @param x the input {@code (..., in)}
     * @param training whether autograd records (the float16 path is for inference only)
     * @return true on a GPU, or for a single row on a CPU, when not training
     */
    public static boolean applies(NDArray x, boolean training) {
        if (training) {
            return false;
        }
        if (!Device.Type.CPU.equals(x.getDevice().getDeviceType())) {
            return true;
        }
        long last = x.getShape().get(x.getShape().dimension() - 1);
        return x.getShape().size() == last;
    }

    /**
     * Returns a float16 copy of weights {@code (out_i, in)} stacked along their rows (several
     * weights that multiply the same input become one product), owned by the first weight's manager
     * and outside any {@link NDScope}: the caller closes it.
     *
     * @param weights the weights, each {@code (out_i, in)}
     * @return {@code (Σ out_i, in)} float16
     */
    public static NDArray copy(NDArray... weights) {
        NDArray half;
        if (weights.length == 1) {
            half = weights[0].toType(DataType.FLOAT16, true);
        } else {
            try (NDArray stacked = NDArrays.concat(new NDList(weights), 0)) {
                NDScope.unregister(stacked);
                half = stacked.toType(DataType.FLOAT16, false);
            }
        }
        NDScope.unregister(half);
        return half;
    }

    /**
     * Returns {@code x Wᵀ} through a float16 weight: the input is cast to float16, the product runs
     * in float16, and the result is cast back to the input's type.
     *
     * @param x the input {@code (..., in)}
     * @param half the float16 weight {@code (out, in)}
     * @return {@code (..., out)} in {@code x}'s type
     */
    public static NDArray product(NDArray x, NDArray half) {
        return Linear.linear(toHalf(x), half).head().toType(x.getDataType(), false);
    }

    /**
     * Returns {@code x} in float16 (itself if it already is).
     *
     * @param x an array
     * @return {@code x} as float16
     */
    public static NDArray toHalf(NDArray x) {
        return x.getDataType() == DataType.FLOAT16 ? x : x.toType(DataType.FLOAT16, false);
    }
}
