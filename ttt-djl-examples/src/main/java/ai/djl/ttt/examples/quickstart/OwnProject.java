package ai.djl.ttt.examples.quickstart;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import ai.djl.ttt.TttVersion;
import ai.djl.ttt.config.LayerType;
import ai.djl.ttt.config.TttConfig;
import ai.djl.ttt.nn.TttLayer;

/**
 * The minimal program of docs/own-project.md ("Use ttt-djl from your own project"): one TTT-Linear
 * layer on DJL's default device (a GPU when libtorch sees one), run over a random sequence. The
 * build compiles it and a test runs it, so the page shows code that works.
 */
public final class OwnProject {

    private OwnProject() {}

    /**
     * Runs a TTT-Linear layer over a (1, 64, 64) sequence and prints where it ran.
     *
     * @param args none
     */
    public static void main(String[] args) {
        // own-project:begin
        Device device = Engine.getInstance().defaultDevice(); // or Device.cpu(), Device.gpu(1)
        TttConfig config =
                TttConfig.builder()
                        .setHiddenSize(64)
                        .setNumAttentionHeads(4)
                        .setLayerType(LayerType.LINEAR)
                        .build();
        try (NDManager manager = NDManager.newBaseManager(device)) {
            TttLayer layer = TttLayer.fromConfig(config);
            layer.initialize(manager, DataType.FLOAT32, new Shape(1, 64, 64));
            NDArray x = manager.randomNormal(new Shape(1, 64, 64)); // (B, T, C)
            NDArray y =
                    layer.forward(new ParameterStore(manager, false), new NDList(x), false).head();
            System.out.println(
                    "ttt-djl "
                            + TttVersion.get()
                            + ": TTT-Linear "
                            + x.getShape()
                            + " -> "
                            + y.getShape()
                            + " on "
                            + y.getDevice());
        }
        // own-project:end
    }
}
