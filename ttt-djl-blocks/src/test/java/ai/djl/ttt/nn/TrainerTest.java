package ai.djl.ttt.nn;

import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.EasyTrain;
import ai.djl.training.Trainer;
import ai.djl.training.dataset.ArrayDataset;
import ai.djl.training.dataset.Batch;
import ai.djl.training.loss.Loss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import ai.djl.translate.TranslateException;
import ai.djl.ttt.config.LayerType;
import ai.djl.ttt.config.TttConfig;
import java.io.IOException;
import java.util.List;
import org.junit.jupiter.api.Test;

/** A TTT layer trains with DJL's Trainer and Adam: a toy sequence task's loss goes down. */
class TrainerTest {

    @Test
    void adamLowersTheLossOfADelayedCopyTask() throws IOException, TranslateException {
        for (TttConfig config :
                List.of(
                        TestLayers.small(LayerType.LINEAR, true),
                        TestLayers.small(LayerType.MLP, true),
                        TestLayers.deepMlp())) {
            Engine.getInstance().setRandomSeed(1234);
            String type = config.getLayerType() + " " + config.getInnerHiddenMultiples();
            try (NDManager manager = NDManager.newBaseManager();
                    Model model = Model.newInstance("ttt-toy")) {
                model.setBlock(TttLayer.fromConfig(config));
                // target: the input of the previous token (a one-step memory task)
                NDArray x = TestLayers.input(manager, 32, 24, 32, 9, DataType.FLOAT32);
                NDArray y = manager.zeros(new Shape(32, 1, 32)).concat(x.get(":, 0:23"), 1);
                ArrayDataset data =
                        new ArrayDataset.Builder()
                                .setData(x)
                                .optLabels(y)
                                .setSampling(8, false)
                                .build();
                DefaultTrainingConfig training =
                        new DefaultTrainingConfig(new MeanSquaredError())
                                .optOptimizer(
                                        Optimizer.adam()
                                                .optLearningRateTracker(Tracker.fixed(1e-2f))
                                                .build());
                try (Trainer trainer = model.newTrainer(training)) {
                    trainer.initialize(new Shape(8, 24, 32));
                    double first = evaluate(trainer, x, y);
                    for (int epoch = 0; epoch < 15; epoch++) {
                        for (Batch batch : trainer.iterateDataset(data)) {
                            EasyTrain.trainBatch(trainer, batch);
                            trainer.step();
                            batch.close();
                        }
                    }
                    double last = evaluate(trainer, x, y);
                    System.out.printf("%s toy loss %.4f -> %.4f%n", type, first, last);
                    assertTrue(
                            last < 0.8 * first,
                            type + ": loss " + first + " -> " + last + " did not go down by 20%");
                }
            }
        }
    }

    /**
     * Mean squared error without DJL's {@code L2Loss}, whose {@code mul(weight)} keeps a Java-owned
     * scalar for the backward pass (see {@code Constants}).
     */
    private static final class MeanSquaredError extends Loss {
        MeanSquaredError() {
            super("MSE");
        }

        @Override
        public NDArray evaluate(NDList labels, NDList predictions) {
            NDArray diff = predictions.head().sub(labels.head());
            return diff.mul(diff).mean();
        }
    }

    private static double evaluate(Trainer trainer, NDArray x, NDArray y) {
        NDList out = trainer.evaluate(new NDList(x));
        return trainer.getLoss().evaluate(new NDList(y), out).getFloat();
    }
}
