package ai.djl.ttt.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.convolutional.Conv1d;

/**
 * A causal depthwise convolution over time that can be run in chunks: the output at step {@code t}
 * is {@code bias[c] + Σ_i w[c,0,i] · x[t−k+1+i, c]}, where inputs before the start of the sequence
 * are zero (reference.md §1.2.1; the official {@code Conv1d(padding=k−1)(x)[..., :T]}).
 *
 * <p>Instead of zero padding, a chunk is left-padded with the last {@code k − 1} inputs of the
 * previous chunk (its <em>window</em>), so prefill, chunked prefill and token-by-token decode give
 * the same numbers. The window is the conv part of the recurrent state (reference.md §3).
 */
public final class CausalConv {

    private CausalConv() {}

    /**
     * Prepends the window to a chunk, in the conv layout.
     *
     * @param x the chunk, {@code (B, T, C)}
     * @param window the last {@code k − 1} inputs before the chunk, {@code (B, C, k − 1)}, or
     *     {@code null} at the start of a sequence (zeros)
     * @param kernel k
     * @return {@code (B, C, k − 1 + T)}
     */
    public static NDArray withHistory(NDArray x, NDArray window, int kernel) {
        NDArray channelsFirst = x.transpose(0, 2, 1);
        if (kernel == 1) {
            return channelsFirst;
        }
        if (window == null) {
            Shape s = channelsFirst.getShape();
            window =
                    x.getManager()
                            .zeros(new Shape(s.get(0), s.get(1), kernel - 1), x.getDataType());
        }
        return NDArrays.concat(new NDList(window, channelsFirst), 2);
    }

    /**
     * Runs the depthwise convolution on a chunk prepared by {@link #withHistory}.
     *
     * @param padded {@code (B, C, k − 1 + T)}
     * @param weight {@code (C, 1, k)}
     * @param bias {@code (C)}
     * @return {@code (B, T, C)}
     */
    public static NDArray apply(NDArray padded, NDArray weight, NDArray bias) {
        int channels = Math.toIntExact(padded.getShape().get(1));
        return Conv1d.conv1d(
                        padded, weight, bias, new Shape(1), new Shape(0), new Shape(1), channels)
                .head()
                .transpose(0, 2, 1);
    }

    /**
     * Returns the window to carry to the next chunk: the last {@code k − 1} inputs.
     *
     * @param padded the chunk prepared by {@link #withHistory}
     * @param kernel k
     * @return {@code (B, C, k − 1)}, or {@code null} when {@code k = 1}
     */
    public static NDArray nextWindow(NDArray padded, int kernel) {
        if (kernel == 1) {
            return null;
        }
        long length = padded.getShape().get(2);
        return padded.get(":, :, {}:", length - (kernel - 1));
    }
}
