package ai.djl.ttt.nn.inner;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

/**
 * Rotary position embedding as the official TTT layers apply it to XQ and XK: rotation of
 * <em>adjacent</em> channel pairs {@code (2i, 2i+1)} by the angle {@code p · θ^(−2i/f)}, where
 * {@code p} is the absolute position <em>modulo the mini-batch size</em> (reference.md §1.2.3 and
 * §14.3). The attention baseline uses the same rotation with plain absolute positions.
 *
 * <p>The official code reaches this with {@code permute_qk → rotate_half → undo_permute_qk}; the
 * net effect is the pairwise (GPT-J, complex-number) form, which is what this class computes:
 *
 * <pre>
 * out[2i]   = x[2i] cos φ − x[2i+1] sin φ
 * out[2i+1] = x[2i+1] cos φ + x[2i] sin φ
 * </pre>
 */
public final class Rope {

    private Rope() {}

    /**
     * Builds the cosine and signed-sine tables for a chunk of {@code length} tokens, laid out to
     * broadcast against {@code (B, T, H, f)}.
     *
     * @param manager the manager (and device) of the tables
     * @param like an array whose data type the tables take
     * @param starts the absolute position of the chunk's first token, one per batch row, or a
     *     single value shared by all rows
     * @param length T, the number of tokens
     * @param headDim f (even)
     * @param period positions are taken modulo this: the mini-batch size b for TTT layers
     *     (reference.md §14.3), {@link Long#MAX_VALUE} for plain absolute positions
     * @param theta the RoPE base θ
     * @return {@code {cos, sin}}, each {@code (starts.length, T, 1, f)}; {@code sin} carries the
     *     sign of each channel's term
     */
    public static NDArray[] tables(
            NDManager manager,
            NDArray like,
            long[] starts,
            int length,
            int headDim,
            long period,
            double theta) {
        int half = headDim / 2;
        double[] invFreq = inverseFrequencies(headDim, theta);
        double[] cos = new double[starts.length * length * headDim];
        double[] sin = new double[cos.length];
        // with positions modulo b, a long chunk repeats b rows: compute each once (the trig
        // functions dominate building the tables of a 2048-token chunk otherwise)
        boolean repeats = period <= length;
        double[][] rowCos = repeats ? new double[(int) period][] : null;
        double[][] rowSin = repeats ? new double[(int) period][] : null;
        int offset = 0;
        for (long start : starts) {
            for (int t = 0; t < length; t++) {
                long p = (start + t) % period;
                double[] c;
                double[] sn;
                if (repeats && rowCos[(int) p] != null) {
                    c = rowCos[(int) p];
                    sn = rowSin[(int) p];
                } else {
                    c = new double[headDim];
                    sn = new double[headDim];
                    for (int i = 0; i < half; i++) {
                        double angle = p * invFreq[i];
                        c[2 * i] = Math.cos(angle);
                        c[2 * i + 1] = c[2 * i];
                        sn[2 * i + 1] = Math.sin(angle);
                        sn[2 * i] = -sn[2 * i + 1];
                    }
                    if (repeats) {
                        rowCos[(int) p] = c;
                        rowSin[(int) p] = sn;
                    }
                }
                System.arraycopy(c, 0, cos, offset, headDim);
                System.arraycopy(sn, 0, sin, offset, headDim);
                offset += headDim;
            }
        }
        Shape shape = new Shape(starts.length, length, 1, headDim);
        return new NDArray[] {
            Constants.of(manager, cos, shape, like), Constants.of(manager, sin, shape, like)
        };
    }

    /**
     * Builds the rotation of one token per row as a matrix, for decoding: {@code x.matMul(R)} is
     * {@link #rotate} with the {@link #tables} of the same positions, in one matrix product instead
     * of seven ops on the tables (a decode step is a few thousand such small ops, each costing a
     * call into libtorch). Non-zero entries, for each channel pair {@code (2i, 2i+1)}:
     *
     * <pre>
     * R[2i][2i] = R[2i+1][2i+1] = cos φ      R[2i][2i+1] = sin φ      R[2i+1][2i] = −sin φ
     * </pre>
     *
     * @param manager the manager (and device) of the matrices
     * @param like an array whose data type the matrices take
     * @param starts the absolute position of each row's token, or a single value shared by all rows
     * @param headDim f (even)
     * @param period positions are taken modulo this (see {@link #tables})
     * @param theta the RoPE base θ
     * @return {@code R}, {@code (starts.length, 1, f, f)}, to multiply {@code (B, 1, H, f)} from
     *     the right
     */
    public static NDArray matrices(
            NDManager manager,
            NDArray like,
            long[] starts,
            int headDim,
            long period,
            double theta) {
        double[] invFreq = inverseFrequencies(headDim, theta);
        int f = headDim;
        double[] r = new double[starts.length * f * f];
        for (int row = 0; row < starts.length; row++) {
            long p = starts[row] % period;
            int base = row * f * f;
            for (int i = 0; i < f / 2; i++) {
                double angle = p * invFreq[i];
                double c = Math.cos(angle);
                double s = Math.sin(angle);
                int even = base + 2 * i * f + 2 * i; // R[2i][2i]
                r[even] = c;
                r[even + 1] = s; // R[2i][2i+1]
                r[even + f] = -s; // R[2i+1][2i]
                r[even + f + 1] = c; // R[2i+1][2i+1]
            }
        }
        return Constants.of(manager, r, new Shape(starts.length, 1, f, f), like);
    }

    /** {@code θ^(−2i/f)} for each channel pair {@code i}. */
    private static double[] inverseFrequencies(int headDim, double theta) {
        double[] invFreq = new double[headDim / 2];
        for (int i = 0; i < invFreq.length; i++) {
            invFreq[i] = 1.0 / Math.pow(theta, 2.0 * i / headDim);
        }
        return invFreq;
    }

    /**
     * Rotates adjacent channel pairs of {@code x}.
     *
     * @param x queries or keys, {@code (B, T, H, f)}
     * @param tables the output of {@link #tables}
     * @return the rotated array, {@code (B, T, H, f)}
     */
    public static NDArray rotate(NDArray x, NDArray[] tables) {
        Shape shape = x.getShape();
        long f = shape.getLastDimension();
        // (x[2i], x[2i+1]) -> (x[2i+1], x[2i]); the sign lives in the sine table. A split and a
        // concatenation, not flip: the same values, 2.5× faster on a (1, 2048, 12, 64) array
        NDList evenOdd = x.reshape(shape.slice(0, 3).add(f / 2, 2)).split(2, 4);
        NDArray swapped =
                NDArrays.concat(new NDList(evenOdd.get(1), evenOdd.get(0)), 4).reshape(shape);
        return x.mul(tables[0]).add(swapped.mul(tables[1]));
    }
}
