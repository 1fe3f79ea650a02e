package ai.djl.ttt.recall;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ttt.config.LayerType;
import ai.djl.ttt.config.TttConfig;
import ai.djl.ttt.lm.CausalLm;
import ai.djl.ttt.training.TrainingSettings;
import ai.djl.ttt.training.TrainingState;
import java.io.OutputStream;
import java.io.PrintStream;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The recall loss scores query positions only; training and accuracy count what they should. */
class RecallTrainingTest {

    private static final PrintStream QUIET = new PrintStream(OutputStream.nullOutputStream());

    @Test
    void lossIsTheCrossEntropyOfScoredPositionsOnly() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray logits = m.randomNormal(new Shape(2, 3, 5));
            long[] targets = {-1, 4, -1, 0, -1, 2};
            NDArray labels = m.create(targets, new Shape(2, 3));
            float actual =
                    new RecallLoss().evaluate(new NDList(labels), new NDList(logits)).getFloat();

            float[] flat = logits.toFloatArray();
            double sum = 0;
            int count = 0;
            for (int i = 0; i < targets.length; i++) {
                if (targets[i] < 0) {
                    continue;
                }
                double norm = 0;
                for (int v = 0; v < 5; v++) {
                    norm += Math.exp(flat[i * 5 + v]);
                }
                sum += Math.log(norm) - flat[i * 5 + (int) targets[i]];
                count++;
            }
            assertEquals(sum / count, actual, 1e-5);

            NDArray none = m.create(new long[] {-1, -1, -1, -1, -1, -1}, new Shape(2, 3));
            IllegalArgumentException e =
                    assertThrows(
                            IllegalArgumentException.class,
                            () -> new RecallLoss().evaluate(new NDList(none), new NDList(logits)));
            assertTrue(e.getMessage().contains("no scored position"), e.getMessage());
        }
    }

    @Test
    void trainingCountsStepsAndTokensAndAccuracyCountsEveryQuery() {
        TttConfig config =
                TttConfig.builder()
                        .setVocabSize(17)
                        .setHiddenSize(16)
                        .setNumAttentionHeads(2)
                        .setIntermediateSize(32)
                        .setNumHiddenLayers(1)
                        .setLayerType(LayerType.LINEAR)
                        .mambaBackbone()
                        .build();
        Engine.getInstance().setRandomSeed(3);
        try (Model model = Model.newInstance("recall")) {
            CausalLm lm = new CausalLm(config);
            lm.initialize(model.getNDManager(), DataType.FLOAT32, new Shape(1, 32));
            model.setBlock(lm);
            AssociativeRecall short16 = AssociativeRecall.of(17, 2, 16);
            AssociativeRecall long32 = AssociativeRecall.of(17, 3, 32);
            // 64 tokens per step: 4 sequences of 16, then 2 of 32
            TrainingSettings settings =
                    new TrainingSettings(4, 4, 16, 1e-2f, 1e-3f, 1, 0.1f, 1f, 2, 0, 5);
            TrainingState state =
                    RecallTraining.train(model, List.of(short16, long32), settings, QUIET);
            assertEquals(4, state.step);
            assertEquals(4 * 64, state.tokensSeen);

            RecallTraining.Accuracy accuracy = RecallTraining.accuracy(model, long32, 5, 0, 2);
            assertEquals(5 * 3, accuracy.total());
            assertTrue(accuracy.correct() >= 0 && accuracy.correct() <= accuracy.total());
            assertEquals(accuracy, RecallTraining.accuracy(model, long32, 5, 0, 4), "batching");
            assertThrows(
                    IllegalArgumentException.class,
                    () -> RecallTraining.accuracy(model, long32, 5, -1, 2));
            assertThrows(
                    IllegalArgumentException.class,
                    () -> RecallTraining.train(model, List.of(), settings, QUIET));
        }
    }
}
