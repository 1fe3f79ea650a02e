package ai.djl.ttt.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.MalformedModelException;
import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ttt.config.LayerType;
import ai.djl.ttt.config.TttConfig;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** DJL's Model.save / Model.load round trip, and a clear error for a mismatched checkpoint. */
class SaveLoadTest {

    @Test
    void modelSaveLoadGivesIdenticalOutputs(@TempDir Path dir) throws Exception {
        for (TttConfig config : TestLayers.smallConfigs()) {
            try (NDManager manager = NDManager.newBaseManager()) {
                NDArray x = TestLayers.input(manager, 2, 21, 32, 3, DataType.FLOAT32);
                NDArray before;
                try (Model model = Model.newInstance("ttt")) {
                    TttLayer layer =
                            TestLayers.layer(config, model.getNDManager(), DataType.FLOAT32, 4);
                    model.setBlock(layer);
                    before = TestLayers.forward(layer, x, "DUAL");
                    model.save(dir, "ttt");
                }
                try (Model model = Model.newInstance("ttt")) {
                    TttLayer layer = TttLayer.fromConfig(config);
                    model.setBlock(layer);
                    model.load(dir, "ttt");
                    assertEquals(
                            0.0,
                            TestLayers.relativeError(TestLayers.forward(layer, x, "DUAL"), before));
                }
            }
        }
    }

    @Test
    void loadingIntoADifferentConfigSaysWhatDiffers(@TempDir Path dir) throws Exception {
        TttConfig config = TestLayers.small(LayerType.LINEAR, false);
        try (Model model = Model.newInstance("ttt")) {
            TttLayer layer = TttLayer.fromConfig(config);
            layer.initialize(model.getNDManager(), DataType.FLOAT32, new Shape(1, 16, 32));
            model.setBlock(layer);
            model.save(dir, "ttt");
        }
        TttConfig other = config.toBuilder().setTttBaseLr(0.5).build();
        try (Model model = Model.newInstance("ttt")) {
            model.setBlock(TttLayer.fromConfig(other));
            MalformedModelException e =
                    assertThrows(MalformedModelException.class, () -> model.load(dir, "ttt"));
            assertTrue(e.getMessage().contains("ttt_base_lr: 1.0 vs 0.5"), e.getMessage());
        }
    }
}
