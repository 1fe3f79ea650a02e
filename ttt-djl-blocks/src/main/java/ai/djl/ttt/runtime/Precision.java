package ai.djl.ttt.runtime;

import ai.djl.ndarray.types.DataType;
import java.util.Locale;

/**
 * The precision a model infers in: {@link #FLOAT32} (the default, exact) or {@link #FLOAT16}
 * (float16 copies of the weights that decoding multiplies a row by; everything else float32). See
 * {@code docs/precision.md}.
 *
 * <p>bfloat16 is refused here and by {@link #requireEngineType}, before any array exists: DJL's
 * PyTorch JNI bridge (0.35.1) maps data types by ordinal and has no bfloat16 case ({@code
 * GetScalarTypeFromDType} in {@code djl_pytorch_utils.h} ends in a bare {@code throw;}), so one
 * bfloat16 array aborts the whole JVM instead of throwing.
 */
public enum Precision {

    /** float32 everywhere: today's exact results. */
    FLOAT32(DataType.FLOAT32),

    /**
     * float16 weights for one-row products (the TTT layers' projections, the feed-forward, the LM
     * head), float32 for the rest (inner loop, norms, logits, the state).
     */
    FLOAT16(DataType.FLOAT16);

    /** The one-line explanation of why bfloat16 is refused, shared by every entry point. */
    static final String BFLOAT16_REFUSED =
            "bfloat16 is not supported: DJL's PyTorch JNI bridge has no bfloat16 case in its"
                    + " data-type mapping (GetScalarTypeFromDType in djl_pytorch_utils.h) and"
                    + " aborts the JVM on one; use float16 or float32";

    private final DataType dataType;

    Precision(DataType dataType) {
        this.dataType = dataType;
    }

    /**
     * Returns the data type of the weights this precision multiplies by.
     *
     * @return {@link DataType#FLOAT32} or {@link DataType#FLOAT16}
     */
    public DataType getDataType() {
        return dataType;
    }

    /**
     * Returns the name used on the command line and in configs.
     *
     * @return {@code float32} or {@code float16}
     */
    public String officialName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /**
     * Parses a precision name: {@code float32} or {@code float16} (case-insensitive; {@code fp32},
     * {@code fp16} and {@code half} are accepted too).
     *
     * @param name the name
     * @return the precision
     * @throws IllegalArgumentException for bfloat16 (naming DJL's limitation) or any other name
     */
    public static Precision parse(String name) {
        String n = name == null ? "" : name.trim().toLowerCase(Locale.ROOT);
        switch (n) {
            case "float32":
            case "fp32":
                return FLOAT32;
            case "float16":
            case "fp16":
            case "half":
                return FLOAT16;
            case "bfloat16":
            case "bf16":
                throw new IllegalArgumentException(BFLOAT16_REFUSED);
            default:
                throw new IllegalArgumentException(
                        "dtype must be float32 or float16, got '" + bounded(name) + "'");
        }
    }

    /**
     * Returns the precision of a data type.
     *
     * @param type {@link DataType#FLOAT32} or {@link DataType#FLOAT16}
     * @return the precision
     * @throws IllegalArgumentException for bfloat16 (naming DJL's limitation) or any other type
     */
    public static Precision of(DataType type) {
        if (type == DataType.FLOAT32) {
            return FLOAT32;
        }
        if (type == DataType.FLOAT16) {
            return FLOAT16;
        }
        requireEngineType(type, "the precision");
        throw new IllegalArgumentException("the precision must be float32 or float16, got " + type);
    }

    /**
     * Checks a data type that an entry point will create arrays of: float16, float32 or float64.
     * Call it before any array is created, so that bfloat16 is an exception instead of an aborted
     * JVM.
     *
     * @param type the requested type
     * @param what what the type is for, for the message (e.g. "the weights")
     * @return the type
     * @throws IllegalArgumentException for bfloat16 (naming DJL's limitation), {@code null} or a
     *     type that is not float16, float32 or float64
     */
    public static DataType requireEngineType(DataType type, String what) {
        if (type == DataType.BFLOAT16) {
            throw new IllegalArgumentException(what + ": " + BFLOAT16_REFUSED);
        }
        if (type != DataType.FLOAT16 && type != DataType.FLOAT32 && type != DataType.FLOAT64) {
            throw new IllegalArgumentException(
                    what + " must be float16, float32 or float64, got " + type);
        }
        return type;
    }

    private static String bounded(String s) {
        if (s == null) {
            return "null";
        }
        String one = s.replaceAll("\\p{Cntrl}", "?");
        return one.length() <= 40 ? one : one.substring(0, 40) + "...";
    }
}
