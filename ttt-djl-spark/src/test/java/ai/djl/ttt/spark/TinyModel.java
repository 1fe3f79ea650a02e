package ai.djl.ttt.spark;

import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ttt.config.LayerType;
import ai.djl.ttt.config.TttConfig;
import ai.djl.ttt.lm.CausalLm;
import ai.djl.ttt.training.ByteTokenizer;
import ai.djl.ttt.training.LmTraining;
import ai.djl.ttt.training.ModelDirectory;
import ai.djl.ttt.training.TrainingSettings;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Random;

/** A byte-level TTT-Linear model trained for a few seconds on a generated corpus, then saved. */
final class TinyModel {

    private static final String[] SUBJECTS = {"the layer", "a model", "the state", "each token"};
    private static final String[] VERBS = {"reads", "updates", "learns", "stores"};
    private static final String[] OBJECTS = {
        "the weights.", "a gradient.", "its input.", "the sequence."
    };

    private TinyModel() {}

    /** Sentences of a small grammar a tiny model learns quickly. */
    static String text(int sentences, long seed) {
        Random random = new Random(seed);
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < sentences; i++) {
            sb.append(SUBJECTS[random.nextInt(SUBJECTS.length)])
                    .append(' ')
                    .append(VERBS[random.nextInt(VERBS.length)])
                    .append(' ')
                    .append(OBJECTS[random.nextInt(OBJECTS.length)])
                    .append(i % 5 == 4 ? "\n" : " ");
        }
        return sb.toString();
    }

    /** Trains the model (30 steps of 8 windows of 32 bytes) and saves it to {@code dir}. */
    static void trainAndSave(Path dir) throws IOException {
        TttConfig config =
                TttConfig.builder()
                        .setVocabSize(256)
                        .setHiddenSize(32)
                        .setNumAttentionHeads(2)
                        .setIntermediateSize(64)
                        .setNumHiddenLayers(2)
                        .setLayerType(LayerType.LINEAR)
                        .mambaBackbone()
                        .build();
        ByteTokenizer tokenizer = new ByteTokenizer();
        LmTraining.Data data = LmTraining.split(text(600, 1), tokenizer, 0.1);
        TrainingSettings settings =
                new TrainingSettings(30, 8, 32, 3e-3f, 3e-4f, 3, 0.1f, 1.0f, 30, 0, 7);
        Engine.getInstance().setRandomSeed(3);
        try (Model model = Model.newInstance(ModelDirectory.MODEL_NAME)) {
            CausalLm lm = new CausalLm(config);
            lm.initialize(model.getNDManager(), DataType.FLOAT32, new Shape(1, 32));
            model.setBlock(lm);
            PrintStream quiet = new PrintStream(OutputStream.nullOutputStream());
            LmTraining.train(model, tokenizer, data, settings, null, null, quiet);
            ModelDirectory.save(dir, model, tokenizer, null, null);
        }
    }
}
