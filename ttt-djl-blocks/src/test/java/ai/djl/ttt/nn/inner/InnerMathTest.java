package ai.djl.ttt.nn.inner;

import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import ai.djl.ttt.io.ParityCheck;
import org.junit.jupiter.api.Test;

/** The closed forms of the inner loop against autograd and against the official formulations. */
class InnerMathTest {

    @Test
    void layerNormL2BackwardIsTheGradientOfTheInnerLoss() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray z =
                    m.randomNormal(0, 2, new Shape(3, 2, 5, 16), DataType.FLOAT64, m.getDevice());
            NDArray target = m.randomNormal(new Shape(3, 2, 5, 16), DataType.FLOAT64);
            NDArray gamma =
                    m.randomNormal(1, 0.3f, new Shape(2, 1, 16), DataType.FLOAT64, m.getDevice());
            NDArray beta =
                    m.randomNormal(0, 0.3f, new Shape(2, 1, 16), DataType.FLOAT64, m.getDevice());
            z.setRequiresGradient(true);
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                NDArray residual = InnerMath.layerNorm(z, gamma, beta).sub(target);
                gc.backward(residual.mul(residual).sum().mul(0.5));
            }
            NDArray closedForm = InnerMath.layerNormL2Backward(z, target, gamma, beta);
            double err = ParityCheck.relativeError(closedForm, z.getGradient());
            assertTrue(err < 1e-12, "ln_fused_l2_bwd vs autograd: " + err);
        }
    }

    @Test
    void geluDerivativeMatchesAutogradOfTanhGelu() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = m.linspace(-6f, 6f, 1001).toType(DataType.FLOAT64, false);
            x.setRequiresGradient(true);
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                gc.backward(InnerMath.geluTanh(x).sum());
            }
            double err =
                    ParityCheck.relativeError(InnerMath.geluTanhDerivative(x), x.getGradient());
            // the official gelu_bwd rounds sqrt(2/pi) to 0.79788456 (reference.md §1.6)
            assertTrue(err < 1e-8, "gelu_bwd vs autograd: " + err);
            double gelu1 = InnerMath.geluTanh(m.create(new double[] {1.0})).getDouble(0);
            assertTrue(Math.abs(gelu1 - 0.8411919906082768) < 1e-15, "tanh-GELU(1) = " + gelu1);
        }
    }

    /**
     * {@code geluTanhWithDerivative} against GELU and the official {@code gelu_bwd} computed in
     * Java doubles, in float32 (the shared-tanh path) and float64 (the separate forms); and the
     * shared-tanh algebra itself in float64, where a wrong term is not hidden by float32 rounding.
     */
    @Test
    void geluWithDerivativeMatchesTheOfficialFormulas() {
        try (NDManager m = NDManager.newBaseManager()) {
            double[] points = new double[2001];
            double[] value = new double[points.length];
            double[] slope = new double[points.length];
            for (int i = 0; i < points.length; i++) {
                double x = -8 + 16.0 * i / (points.length - 1);
                points[i] = x;
                value[i] =
                        0.5
                                * x
                                * (1
                                        + Math.tanh(
                                                Math.sqrt(2 / Math.PI)
                                                        * (x + 0.044715 * x * x * x)));
                double t = Math.tanh(0.79788456 * x * (1 + 0.044715 * x * x));
                slope[i] =
                        0.5 * x * (1 - t * t) * (0.79788456 + 0.1070322243 * x * x) + 0.5 * (1 + t);
            }
            NDArray expectedValue = m.create(value);
            NDArray expectedSlope = m.create(slope);
            for (DataType type : new DataType[] {DataType.FLOAT32, DataType.FLOAT64}) {
                NDArray x = m.create(points).toType(type, false);
                InnerMath.Gelu both =
                        InnerMath.geluTanhWithDerivative(x, InnerMath.Scalars.like(x));
                double tolerance = type == DataType.FLOAT32 ? 1e-6 : 1e-14;
                assertGelu(both, expectedValue, expectedSlope, tolerance, type.toString());
            }
            NDArray x = m.create(points);
            InnerMath.Gelu shared = InnerMath.geluTanhShared(x, InnerMath.Scalars.like(x));
            // the shared tanh uses one constant for both (√(2/π) vs the official 0.79788456
            // differ by 7e-9 relative), so float64 shows that difference and nothing more
            assertGelu(shared, expectedValue, expectedSlope, 1e-8, "shared tanh, float64");
        }
    }

    private static void assertGelu(
            InnerMath.Gelu gelu, NDArray value, NDArray slope, double tolerance, String what) {
        double valueError =
                ParityCheck.relativeError(gelu.value().toType(DataType.FLOAT64, false), value);
        double slopeError =
                ParityCheck.relativeError(gelu.derivative().toType(DataType.FLOAT64, false), slope);
        assertTrue(valueError < tolerance, what + " gelu: " + valueError);
        assertTrue(slopeError < tolerance, what + " gelu': " + slopeError);
    }

    /** The official permute_qk → rotate_half → undo_permute_qk, written out (ttt.py 223–260). */
    @Test
    void pairwiseRopeEqualsTheOfficialPermuteRotateHalfForm() {
        int f = 16;
        int b = 16;
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = m.randomNormal(new Shape(2, 40, 3, f), DataType.FLOAT64);
            long start = 5;
            NDArray ours = Rope.rotate(x, Rope.tables(m, x, new long[] {start}, 40, f, b, 10000));

            double[] cos = new double[40 * f];
            double[] sin = new double[40 * f];
            for (int t = 0; t < 40; t++) {
                long p = (start + t) % b;
                for (int i = 0; i < f / 2; i++) {
                    double angle = p / Math.pow(10000, 2.0 * i / f);
                    cos[t * f + i] = cos[t * f + i + f / 2] = Math.cos(angle);
                    sin[t * f + i] = sin[t * f + i + f / 2] = Math.sin(angle);
                }
            }
            NDArray c = m.create(cos, new Shape(40, 1, f));
            NDArray s = m.create(sin, new Shape(40, 1, f));
            Shape shape = x.getShape();
            NDArray permuted =
                    x.reshape(2, 40, 3, f / 2, 2).transpose(0, 1, 2, 4, 3).reshape(shape);
            NDArray firstHalf = permuted.get("..., 0:{}", f / 2);
            NDArray secondHalf = permuted.get("..., {}:", f / 2);
            NDArray rotateHalf = NDArrays.concat(new NDList(secondHalf.neg(), firstHalf), 3);
            NDArray rotated = permuted.mul(c).add(rotateHalf.mul(s));
            NDArray official =
                    rotated.reshape(2, 40, 3, 2, f / 2).transpose(0, 1, 2, 4, 3).reshape(shape);
            double err = ParityCheck.relativeError(ours, official);
            assertTrue(err < 1e-14, "pairwise RoPE vs permute/rotate_half: " + err);
        }
    }

    /** A decode step's rotation matrix rotates as the tables do, each row at its own position. */
    @Test
    void ropeMatricesRotateAsTheTables() {
        int f = 16;
        try (NDManager m = NDManager.newBaseManager()) {
            long[] starts = {0, 7, 21}; // 21 mod 16 = 5
            NDArray x = m.randomNormal(new Shape(3, 1, 4, f), DataType.FLOAT64);
            NDArray tables = Rope.rotate(x, Rope.tables(m, x, starts, 1, f, 16, 10000));
            NDArray matrices = x.matMul(Rope.matrices(m, x, starts, f, 16, 10000));
            double err = ParityCheck.relativeError(matrices, tables);
            assertTrue(err < 1e-14, "matrix vs table RoPE: " + err);
            // one position shared by every row
            NDArray shared = x.matMul(Rope.matrices(m, x, new long[] {9}, f, 16, 10000));
            NDArray expected = Rope.rotate(x, Rope.tables(m, x, new long[] {9}, 1, f, 16, 10000));
            assertTrue(ParityCheck.relativeError(shared, expected) < 1e-14);
            // position 0 is the identity
            assertTrue(ParityCheck.relativeError(matrices.get(0), x.get(0)) < 1e-15);
        }
    }
}
