package ai.djl.ttt.lm;

import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ttt.config.LayerType;
import ai.djl.ttt.config.TttConfig;
import ai.djl.ttt.io.OfficialWeights;
import ai.djl.ttt.nn.TestLayers;
import ai.djl.ttt.training.ByteTokenizer;
import ai.djl.ttt.training.ModelDirectory;
import java.nio.file.Path;
import java.util.Random;

/** Tiny language models with random parameters. */
public final class TestModels {

    private TestModels() {}

    /** V = 64, C = 32, 2 heads, 2 blocks; Mamba flags for TTT layers. */
    public static TttConfig tiny(LayerType type) {
        TttConfig.Builder b =
                TttConfig.builder()
                        .setVocabSize(64)
                        .setHiddenSize(32)
                        .setNumAttentionHeads(2)
                        .setIntermediateSize(64)
                        .setNumHiddenLayers(2)
                        .setLayerType(type);
        if (type.isTtt()) {
            b.mambaBackbone();
        }
        if (type == LayerType.MLP) {
            b.setTttBaseLr(0.1);
        }
        return b.build();
    }

    /** An initialised model with every parameter drawn at random. */
    public static CausalLm model(TttConfig config, NDManager manager, long seed) {
        CausalLm model = new CausalLm(config);
        model.initialize(manager, DataType.FLOAT32, new Shape(1, 16));
        TestLayers.randomize(OfficialWeights.parameterNames(model), seed);
        return model;
    }

    /**
     * Saves a tiny TTT-Linear model (seed 5) of the byte vocabulary as {@code ttt train} does:
     * config.json, tokenizer, ttt-lm-0000.params, serving.properties.
     */
    public static Path saved(Path dir) throws Exception {
        return saved(dir, LayerType.LINEAR, 5);
    }

    /**
     * Saves a tiny model of a layer type with the byte vocabulary (V = 256), as {@code ttt train}
     * does.
     */
    public static Path saved(Path dir, LayerType type, long seed) throws Exception {
        try (Model model = Model.newInstance(ModelDirectory.MODEL_NAME)) {
            model.setBlock(
                    model(
                            tiny(type).toBuilder().setVocabSize(256).build(),
                            model.getNDManager(),
                            seed));
            ModelDirectory.save(dir, model, new ByteTokenizer(), null, null);
        }
        return dir;
    }

    /** Uniform random token ids {@code (B, T)}. */
    public static NDArray ids(NDManager manager, int batch, int length, int vocab, long seed) {
        Random random = new Random(seed);
        long[] ids = new long[batch * length];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = random.nextInt(vocab);
        }
        return manager.create(ids, new Shape(batch, length));
    }
}
