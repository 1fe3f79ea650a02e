package ai.djl.ttt.nn.inner;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

/**
 * Constant arrays built from Java data (masks, RoPE tables, token factors), in memory that libtorch
 * owns.
 *
 * <p>Why not plain {@code manager.create(float[])}: on CPU, DJL 0.36.0 wraps the Java buffer with
 * {@code torch::from_blob}, so the tensor's memory belongs to a direct {@code ByteBuffer} kept
 * alive only by the Java {@code NDArray}. An array closed at the end of a forward pass can then be
 * garbage-collected while autograd still holds the tensor for the backward pass (for example the
 * causal mask in {@code E ⊙ mask}): the backward reads freed memory, and training turns NaN at
 * random steps. A native copy has no such tie.
 *
 * <p>The same holds for DJL's {@code NDArray.mul(Number)}, {@code div(Number)} and {@code
 * maximum(Number)}: they wrap the number with {@code from_blob}, and PyTorch saves that scalar for
 * the backward pass. Inside anything autograd records, multiply by {@link #scalar} instead ({@code
 * add(Number)} and {@code sub(Number)} are safe: their backward needs no operand).
 */
public final class Constants {

    private Constants() {}

    /**
     * A native copy with the reference's data type. ({@code toType(sameType, true)} does not copy
     * on PyTorch: it returns an alias of the same memory; {@code duplicate()} clones.)
     */
    private static NDArray copy(NDArray wrapped, NDArray like) {
        return wrapped.getDataType() == like.getDataType()
                ? wrapped.duplicate()
                : wrapped.toType(like.getDataType(), false);
    }

    /**
     * Creates a natively owned scalar with the data type of a reference array, in its manager.
     *
     * @param like the array the scalar will be combined with
     * @param value the value
     * @return a 0-dimensional array
     */
    public static NDArray scalar(NDArray like, double value) {
        return of(like.getManager(), new double[] {value}, new Shape(), like);
    }

    /**
     * Multiplies by a constant, safely inside autograd ({@code x.mul(Number)} is not, see the class
     * documentation).
     *
     * @param x the array
     * @param value the factor
     * @return {@code x · value}
     */
    public static NDArray times(NDArray x, double value) {
        return x.mul(scalar(x, value));
    }

    /**
     * Creates a constant with the data type and device of a reference array.
     *
     * @param manager the owner
     * @param data the values, row-major
     * @param shape the shape
     * @param like the array whose data type the constant takes
     * @return a natively owned array
     */
    public static NDArray of(NDManager manager, float[] data, Shape shape, NDArray like) {
        try (NDArray wrapped = manager.create(data, shape)) {
            return copy(wrapped, like);
        }
    }

    /**
     * Creates a constant with the data type and device of a reference array.
     *
     * @param manager the owner
     * @param data the values, row-major
     * @param shape the shape
     * @param like the array whose data type the constant takes
     * @return a natively owned array
     */
    public static NDArray of(NDManager manager, double[] data, Shape shape, NDArray like) {
        try (NDArray wrapped = manager.create(data, shape)) {
            return copy(wrapped, like);
        }
    }
}
