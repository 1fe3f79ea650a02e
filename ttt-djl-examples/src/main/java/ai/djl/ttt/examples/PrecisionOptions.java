package ai.djl.ttt.examples;

import ai.djl.ttt.runtime.Precision;
import picocli.CommandLine.Option;

/**
 * {@code --dtype}: the precision a command's model infers in ({@code float32}, the default, or
 * {@code float16}; see docs/precision.md). bfloat16 and other names are refused with one line
 * naming what is accepted (exit status 2), before any array exists.
 */
final class PrecisionOptions {

    @Option(
            names = "--dtype",
            defaultValue = "float32",
            description =
                    "float32 (default, exact) or float16 (float16 weights for one-row products:"
                            + " decode at batch 1; docs/precision.md). bfloat16 is refused: DJL's"
                            + " PyTorch engine cannot hold it")
    String dtype;

    /**
     * Returns the parsed precision.
     *
     * @return the precision
     * @throws IllegalArgumentException for bfloat16 or an unknown name
     */
    Precision get() {
        try {
            return Precision.parse(dtype);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--dtype: " + e.getMessage(), e);
        }
    }
}
