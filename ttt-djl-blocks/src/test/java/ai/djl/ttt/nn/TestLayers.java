package ai.djl.ttt.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.ttt.config.LayerType;
import ai.djl.ttt.config.TttConfig;
import ai.djl.ttt.io.OfficialWeights;
import ai.djl.ttt.runtime.NoGrad;
import ai.djl.util.PairList;
import java.util.List;
import java.util.Map;
import java.util.Random;

/** Small layers with random parameters, scaled so that every term of the math matters. */
public final class TestLayers {

    private TestLayers() {}

    /**
     * The four combinations of inner model and backbone, at a small size, and a deeper inner MLP
     * ({@link #deepMlp}).
     */
    public static List<TttConfig> smallConfigs() {
        return List.of(
                small(LayerType.LINEAR, false),
                small(LayerType.LINEAR, true),
                small(LayerType.MLP, false),
                small(LayerType.MLP, true),
                deepMlp());
    }

    /**
     * TTT-MLP with three dense layers of unequal widths, {@code f → 2f → 3f → f} (f = 16), Mamba
     * backbone: a ttt-djl extension that every layer test runs beside the official shapes.
     */
    public static TttConfig deepMlp() {
        return small(LayerType.MLP, true).toBuilder()
                .setInnerHiddenMultiples(List.of(2, 3))
                .build();
    }

    /** C = 32, H = 2 (f = 16), b = 16; Transformer or Mamba backbone flags. */
    public static TttConfig small(LayerType type, boolean mamba) {
        TttConfig.Builder b =
                TttConfig.builder()
                        .setHiddenSize(32)
                        .setNumAttentionHeads(2)
                        .setIntermediateSize(64)
                        .setNumHiddenLayers(2)
                        .setVocabSize(64)
                        .setLayerType(type);
        if (mamba) {
            b.mambaBackbone();
        }
        return b.build();
    }

    /** Builds, initialises and randomises a layer. */
    public static TttLayer layer(TttConfig config, NDManager manager, DataType type, long seed) {
        TttLayer layer = TttLayer.fromConfig(config);
        layer.initialize(manager, type, new Shape(1, 16, config.getHiddenSize()));
        randomize(layer, seed);
        return layer;
    }

    /** Draws every parameter as the reference fixtures do (fixtures README, "randomization"). */
    public static void randomize(TttLayer layer, long seed) {
        randomize(OfficialWeights.parameterNames(layer), seed);
    }

    /** Draws parameters by their official names (with or without a model prefix). */
    public static void randomize(Map<String, Parameter> parameters, long seed) {
        Random random = new Random(seed);
        for (Map.Entry<String, Parameter> e : parameters.entrySet()) {
            NDArray array = e.getValue().getArray();
            String full = e.getKey();
            String prefix = "seq_modeling_block.";
            String name =
                    full.contains(prefix)
                            ? full.substring(full.indexOf(prefix) + prefix.length())
                            : full;
            Shape shape = array.getShape();
            double scale;
            double mean = 0;
            if (name.equals("ttt_norm_weight")
                    || name.equals("post_norm.weight")
                    || name.endsWith("norm.weight")) {
                mean = 1;
                scale = 0.2;
            } else if (name.equals("learnable_token_idx")) {
                scale = 0.02;
            } else if (name.equals("learnable_ttt_lr_weight")) {
                scale = 0.1;
            } else if (name.equals("learnable_ttt_lr_bias")) {
                scale = 0.5;
            } else if (name.startsWith("conv_") || name.contains("conv.conv.")) {
                scale = name.endsWith("weight") ? 0.4 : 0.1;
            } else if (name.matches("W[0-9]+")) {
                scale = 1 / Math.sqrt(shape.get(shape.dimension() - 2));
            } else if (name.endsWith("proj.weight") || name.equals("lm_head.weight")) {
                scale = 1 / Math.sqrt(shape.get(1));
            } else if (name.equals("model.embed_tokens.weight")) {
                scale = 1;
            } else {
                scale = 0.2;
            }
            double[] values = new double[(int) shape.size()];
            for (int i = 0; i < values.length; i++) {
                values[i] = mean + scale * random.nextGaussian();
            }
            try (NDArray v = array.getManager().create(values, shape)) {
                NDArray typed = v.toType(array.getDataType(), true);
                try (NoGrad off = NoGrad.open(array.getManager())) {
                    array.set(new ai.djl.ndarray.index.NDIndex("..."), typed);
                }
                typed.close();
            }
        }
    }

    /** A standard normal input {@code (B, T, C)}. */
    public static NDArray input(
            NDManager manager, int batch, int length, int width, long seed, DataType type) {
        Random random = new Random(seed);
        double[] values = new double[batch * length * width];
        for (int i = 0; i < values.length; i++) {
            values[i] = random.nextGaussian();
        }
        return manager.create(values, new Shape(batch, length, width)).toType(type, false);
    }

    /** Plain forward without state. */
    public static NDArray forward(TttLayer layer, NDArray x, String form) {
        return forward(layer, x, form, null);
    }

    /** Plain forward without state, measuring the inner loss into a recorder if one is given. */
    public static NDArray forward(
            TttLayer layer, NDArray x, String form, InnerLossRecorder recorder) {
        PairList<String, Object> params = recorder == null ? new PairList<>() : recorder.asParams();
        params.add(TttLayer.FORM_PARAM, form);
        return layer.forward(
                        new ParameterStore(x.getManager(), false), new NDList(x), false, params)
                .head();
    }

    /** {@code ‖a − b‖ / ‖b‖} in double precision. */
    public static double relativeError(NDArray a, NDArray b) {
        return ai.djl.ttt.io.ParityCheck.relativeError(a, b);
    }
}
