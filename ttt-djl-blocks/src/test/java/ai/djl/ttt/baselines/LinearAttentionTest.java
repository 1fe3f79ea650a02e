package ai.djl.ttt.baselines;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import ai.djl.ttt.config.LayerType;
import ai.djl.ttt.config.TttConfig;
import ai.djl.ttt.io.ParityCheck;
import ai.djl.ttt.nn.SequenceLayer;
import ai.djl.ttt.nn.TestLayers;
import ai.djl.ttt.nn.inner.Rope;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Linear attention is TTT-Linear trained by batch gradient descent from zero, and decodes exactly.
 */
class LinearAttentionTest {

    private static final int HEADS = 2;
    private static final int HEAD_DIM = 8;

    private static TttConfig config() {
        return TttConfig.builder()
                .setVocabSize(64)
                .setHiddenSize(HEADS * HEAD_DIM)
                .setNumAttentionHeads(HEADS)
                .setLayerType(LayerType.LINEAR_ATTENTION)
                .build();
    }

    private static LinearAttention layer(NDManager manager) {
        LinearAttention layer = new LinearAttention(config());
        layer.initialize(manager, DataType.FLOAT64, new Shape(1, 8, HEADS * HEAD_DIM));
        Map<String, ai.djl.nn.Parameter> names = new LinkedHashMap<>();
        layer.getParameters().forEach(p -> names.put(p.getKey(), p.getValue()));
        TestLayers.randomize(names, 7);
        return layer;
    }

    @Test
    void outputIsTheBatchGradientDescentRecurrence() {
        try (NDManager manager = NDManager.newBaseManager()) {
            LinearAttention layer = layer(manager);
            ParameterStore ps = new ParameterStore(manager, false);
            int length = 150; // blocks of 64, 64 and 22 tokens
            NDArray x =
                    manager.randomNormal(new Shape(2, length, HEADS * HEAD_DIM))
                            .toType(DataType.FLOAT64, false);
            NDArray actual = layer.forward(ps, new NDList(x), false).head();

            // the TTT view, token by token: W ← W − ∇ℓ(W₀ = 0) = W + kᵀ v, then z = q W / f
            NDArray[] rope =
                    Rope.tables(
                            manager, x, new long[] {0, 0}, length, HEAD_DIM, Long.MAX_VALUE, 1e4);
            NDArray q = Rope.rotate(project(layer.getQueryProjection(), ps, x), rope);
            NDArray k = Rope.rotate(project(layer.getKeyProjection(), ps, x), rope);
            NDArray v = project(layer.getValueProjection(), ps, x);
            NDArray w = manager.zeros(new Shape(2, HEADS, HEAD_DIM, HEAD_DIM), DataType.FLOAT64);
            NDList z = new NDList();
            for (int t = 0; t < length; t++) {
                NDArray kt = k.get(":, {}", t).expandDims(3); // (B, H, f, 1)
                NDArray vt = v.get(":, {}", t).expandDims(2); // (B, H, 1, f)
                w = w.add(kt.matMul(vt));
                NDArray qt = q.get(":, {}", t).expandDims(2); // (B, H, 1, f)
                z.add(qt.matMul(w).div(HEAD_DIM).reshape(2, 1, HEADS * HEAD_DIM));
            }
            NDArray merged = NDArrays.concat(z, 1);
            NDArray expected =
                    layer.getOutputProjection()
                            .forward(
                                    ps,
                                    layer.getPostNorm().forward(ps, new NDList(merged), false),
                                    false)
                            .head();
            double err = ParityCheck.relativeError(actual, expected);
            assertTrue(err < 1e-12, "relative error " + err);
        }
    }

    private static NDArray project(ai.djl.nn.Block projection, ParameterStore ps, NDArray x) {
        NDArray y = projection.forward(ps, new NDList(x), false).head();
        Shape s = y.getShape();
        return y.reshape(s.get(0), s.get(1), HEADS, HEAD_DIM);
    }

    @Test
    void chunksAndSingleTokensGiveTheFullOutput() {
        try (NDManager manager = NDManager.newBaseManager()) {
            LinearAttention layer = layer(manager);
            ParameterStore ps = new ParameterStore(manager, false);
            NDArray x =
                    manager.randomNormal(new Shape(3, 160, HEADS * HEAD_DIM))
                            .toType(DataType.FLOAT64, false);
            NDArray full = layer.forward(ps, new NDList(x), false).head();
            // a short chunk, a long one in blocks that continues a carried sum, single tokens
            SequenceLayer.Output<LinearAttentionState> out =
                    layer.prefill(ps, x.get(":, 0:7"), null, false);
            NDList pieces = new NDList(out.output());
            out = layer.prefill(ps, x.get(":, 7:140"), out.state(), false);
            pieces.add(out.output());
            for (int t = 140; t < 160; t++) {
                out = layer.prefill(ps, x.get(":, {}:{}", t, t + 1), out.state(), false);
                pieces.add(out.output());
            }
            assertEquals(160, out.state().getPositions()[2]);
            double err = ParityCheck.relativeError(NDArrays.concat(pieces, 1), full);
            assertTrue(err < 1e-12, "relative error " + err);
        }
    }

    @Test
    void badInputIsRejected() {
        try (NDManager manager = NDManager.newBaseManager()) {
            LinearAttention layer = layer(manager);
            ParameterStore ps = new ParameterStore(manager, false);
            IllegalArgumentException wrongWidth =
                    assertThrows(
                            IllegalArgumentException.class,
                            () ->
                                    layer.forward(
                                            ps,
                                            new NDList(manager.zeros(new Shape(1, 4, 15))),
                                            false));
            assertTrue(wrongWidth.getMessage().contains("C = 16"), wrongWidth.getMessage());
            SequenceLayer.Output<LinearAttentionState> two =
                    layer.prefill(
                            ps, manager.zeros(new Shape(2, 3, 16), DataType.FLOAT64), null, false);
            IllegalArgumentException batch =
                    assertThrows(
                            IllegalArgumentException.class,
                            () ->
                                    layer.prefill(
                                            ps,
                                            manager.zeros(new Shape(1, 1, 16), DataType.FLOAT64),
                                            two.state(),
                                            false));
            assertTrue(batch.getMessage().contains("2 sequences"), batch.getMessage());
        }
    }
}
