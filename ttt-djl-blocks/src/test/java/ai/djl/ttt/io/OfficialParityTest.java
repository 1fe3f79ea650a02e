package ai.djl.ttt.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.ttt.runtime.Precision;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Our layers against tensors produced by the official ttt.py (reference.md §1; fixtures README).
 */
class OfficialParityTest {

    static Path fixture(String name) {
        return Path.of("src/test/resources/ttt-reference", name);
    }

    /**
     * Whole TTTForCausalLM with pre_conv: full logits, and a 20-token prefill + 16 decode steps.
     */
    @Test
    void languageModelLogitsAndDecodeStepsMatchOfficialCode() throws Exception {
        try (NDManager manager = NDManager.newBaseManager();
                ReferenceCase c = ReferenceCase.load(manager, fixture("decode_linear"))) {
            List<ParityCheck.Result> results = ParityCheck.run(manager, c);
            assertEquals(6, results.size());
            for (ParityCheck.Result r : results) {
                System.out.printf("decode_linear %s %.3e%n", r.output(), r.relativeError());
                double tolerance = r.output().endsWith("_f64") ? 1e-12 : 1e-5;
                assertTrue(r.relativeError() <= tolerance, r.output() + " " + r.relativeError());
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"ttt_linear_layer_T64", "ttt_mlp_layer_T64"})
    void layerOutputMatchesOfficialCode(String caseName) throws Exception {
        try (NDManager manager = NDManager.newBaseManager();
                ReferenceCase c = ReferenceCase.load(manager, fixture(caseName))) {
            List<ParityCheck.Result> results = ParityCheck.run(manager, c);
            assertEquals(List.of("output", "output_f64"), c.getOutputs());
            for (ParityCheck.Result r : results) {
                System.out.printf("%s %s %.3e%n", caseName, r.output(), r.relativeError());
                assertTrue(
                        r.within(ParityCheck.DEFAULT_TOLERANCE, ParityCheck.DEFAULT_TOLERANCE_F64),
                        caseName + " " + r.output() + " rel err " + r.relativeError());
            }
        }
    }

    /**
     * float16 mode, one row and one token per call (every product through the float16 copies):
     * within {@code ttt parity --dtype float16}'s default tolerance (4 × float16's unit roundoff,
     * docs/precision.md) on every case, and not float32's numbers (the copies were used).
     */
    @ParameterizedTest
    @ValueSource(strings = {"decode_linear", "ttt_linear_layer_T64", "ttt_mlp_layer_T64"})
    void float16ModeStaysWithinItsToleranceOnEveryCase(String caseName) throws Exception {
        try (NDManager manager = NDManager.newBaseManager();
                ReferenceCase c = ReferenceCase.load(manager, fixture(caseName))) {
            for (ParityCheck.Result r : ParityCheck.run(manager, c, Precision.FLOAT16)) {
                System.out.printf("float16 %s %s %.3e%n", caseName, r.output(), r.relativeError());
                if (r.output().endsWith("_f64")) {
                    assertTrue(r.relativeError() <= 1e-12, r.output() + " " + r.relativeError());
                } else {
                    assertTrue(
                            r.relativeError() <= 2e-3 && r.relativeError() > 1e-5,
                            caseName + " " + r.output() + " rel err " + r.relativeError());
                }
            }
        }
    }
}
