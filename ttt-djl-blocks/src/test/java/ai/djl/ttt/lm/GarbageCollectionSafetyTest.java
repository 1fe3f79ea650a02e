package ai.djl.ttt.lm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.ttt.config.LayerType;
import ai.djl.util.Pair;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Gradients do not change when the JVM collects garbage between the forward and the backward pass.
 *
 * <p>Regression test for a use-after-free that made training turn NaN at random steps: on CPU, DJL
 * wraps Java data ({@code manager.create(float[])}, and the scalar of {@code mul(Number)}) with
 * {@code torch::from_blob}; when such an array is closed and collected while autograd still holds
 * it, the backward pass reads freed memory. See {@code ai.djl.ttt.nn.inner.Constants}.
 */
class GarbageCollectionSafetyTest {

    @Test
    void backwardIsUnaffectedByGarbageCollection() throws InterruptedException {
        for (LayerType type : LayerType.values()) {
            Engine.getInstance().setRandomSeed(1);
            try (NDManager manager = NDManager.newBaseManager()) {
                CausalLm model = TestModels.model(TestModels.tiny(type), manager, 2);
                NDArray ids = TestModels.ids(manager, 2, 40, 64, 3);
                float[] calm = gradients(model, ids, false);
                float[] stormy = gradients(model, ids, true);
                assertArrayEquals(calm, stormy, type + ": gradients changed after a GC");
            }
        }
    }

    private static float[] gradients(CausalLm model, NDArray ids, boolean collect)
            throws InterruptedException {
        NDManager manager = ids.getManager();
        for (Pair<String, Parameter> p : model.getParameters()) {
            NDArray g = p.getValue().getArray().getGradient();
            g.subi(g);
            g.close();
        }
        try (GradientCollector collector = Engine.getInstance().newGradientCollector();
                NDManager step = manager.newSubManager()) {
            NDArray logits =
                    model.forward(new ParameterStore(manager, false), new NDList(ids), true).head();
            logits.attach(step);
            NDArray loss = logits.mul(logits).mean();
            if (collect) {
                for (int round = 0; round < 5; round++) {
                    System.gc();
                    Thread.sleep(20);
                    // reuse freed native memory with recognisable garbage
                    for (int i = 0; i < 2000; i++) {
                        manager.create(new float[] {1e30f, 1e30f}).close();
                    }
                }
            }
            collector.backward(loss);
        }
        List<Float> all = new ArrayList<>();
        for (Pair<String, Parameter> p : model.getParameters()) {
            try (NDArray g = p.getValue().getArray().getGradient()) {
                for (float v : g.toFloatArray()) {
                    all.add(v);
                }
            }
        }
        float[] result = new float[all.size()];
        for (int i = 0; i < result.length; i++) {
            result[i] = all.get(i);
        }
        return result;
    }
}
