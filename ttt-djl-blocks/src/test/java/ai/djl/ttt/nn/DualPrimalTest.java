package ai.djl.ttt.nn;

import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ttt.config.TttConfig;
import org.junit.jupiter.api.Test;

/**
 * The dual form (reference.md §1.4, §1.6) computes exactly what the primal form (§1.5) computes.
 */
class DualPrimalTest {

    @Test
    void dualEqualsPrimalForEveryLengthAndLayer() {
        for (TttConfig config : TestLayers.smallConfigs()) {
            for (DataType type : new DataType[] {DataType.FLOAT64, DataType.FLOAT32}) {
                try (NDManager manager = NDManager.newBaseManager()) {
                    TttLayer layer = TestLayers.layer(config, manager, type, 7);
                    for (int length : new int[] {1, 7, 16, 17, 50}) {
                        NDArray x = TestLayers.input(manager, 2, length, 32, length, type);
                        NDArray dual = TestLayers.forward(layer, x, "DUAL");
                        NDArray primal = TestLayers.forward(layer, x, "PRIMAL");
                        double err = TestLayers.relativeError(dual, primal);
                        double tolerance = type == DataType.FLOAT64 ? 1e-12 : 1e-5;
                        assertTrue(
                                err <= tolerance,
                                config.getLayerType()
                                        + " shareQk="
                                        + config.isShareQk()
                                        + " "
                                        + type
                                        + " T="
                                        + length
                                        + ": dual vs primal rel err "
                                        + err);
                    }
                }
            }
        }
    }
}
