package ai.djl.ttt.nn.inner;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

/**
 * Rotary position embedding as the official TTT layers apply it to XQ and XK: rotation of
 * <em>adjacent</em> channel pairs {@code (2i, 2i+1)} by the angle {@code p · θ^(−2i/f)}, where
 * {@code p} is the absolute position <em>modulo the mini-batch size</em> (spec §1.2.3 and §14.3).
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
     * @param miniBatchSize b: positions are taken modulo b
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
            int miniBatchSize,
            double theta) {
        int half = headDim / 2;
        double[] invFreq = new double[half];
        for (int i = 0; i < half; i++) {
            invFreq[i] = 1.0 / Math.pow(theta, 2.0 * i / headDim);
        }
        // one row per position modulo b, then copied to the chunk's positions
        double[][] cosRow = new double[miniBatchSize][headDim];
        double[][] sinRow = new double[miniBatchSize][headDim];
        for (int p = 0; p < miniBatchSize; p++) {
            for (int i = 0; i < half; i++) {
                double angle = p * invFreq[i];
                cosRow[p][2 * i] = Math.cos(angle);
                cosRow[p][2 * i + 1] = Math.cos(angle);
                sinRow[p][2 * i] = -Math.sin(angle);
                sinRow[p][2 * i + 1] = Math.sin(angle);
            }
        }
        double[] cos = new double[starts.length * length * headDim];
        double[] sin = new double[cos.length];
        int offset = 0;
        for (long start : starts) {
            for (int t = 0; t < length; t++) {
                int p = (int) ((start + t) % miniBatchSize);
                System.arraycopy(cosRow[p], 0, cos, offset, headDim);
                System.arraycopy(sinRow[p], 0, sin, offset, headDim);
                offset += headDim;
            }
        }
        Shape shape = new Shape(starts.length, length, 1, headDim);
        return new NDArray[] {
            manager.create(cos, shape).toType(like.getDataType(), false),
            manager.create(sin, shape).toType(like.getDataType(), false)
        };
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
        // (x[2i], x[2i+1]) -> (x[2i+1], x[2i]); the sign lives in the sine table
        NDArray swapped = x.reshape(shape.slice(0, 3).add(f / 2, 2)).flip(4).reshape(shape);
        return x.mul(tables[0]).add(swapped.mul(tables[1]));
    }
}
