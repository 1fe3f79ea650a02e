package ai.djl.ttt.training;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDScope;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;

/**
 * Global-norm gradient clipping, as {@code torch.nn.utils.clip_grad_norm_}: if the L2 norm of all
 * gradients together exceeds {@code max}, every gradient is scaled by {@code max / norm}.
 *
 * <p>DJL's {@code Optimizer.optClipGrad} is not a substitute: on PyTorch it clamps each value from
 * above only, so negative gradients are not clipped at all (djl-notes §0.4).
 */
public final class GradientClipping {

    private GradientClipping() {}

    /**
     * Clips the gradients of a block's parameters in place, between backward and the optimizer
     * step.
     *
     * @param block the block
     * @param max the largest allowed global norm
     * @return the global norm before clipping
     */
    public static float clipGlobalNorm(Block block, float max) {
        try (NDScope scope = new NDScope()) {
            NDList gradients = new NDList();
            for (Pair<String, Parameter> p : block.getParameters()) {
                Parameter parameter = p.getValue();
                if (parameter.requiresGradient()
                        && parameter.isInitialized()
                        && parameter.getArray().hasGradient()) {
                    gradients.add(parameter.getArray().getGradient());
                }
            }
            if (gradients.isEmpty()) {
                return 0;
            }
            NDList squares = new NDList();
            for (NDArray g : gradients) {
                squares.add(g.mul(g).sum().toType(ai.djl.ndarray.types.DataType.FLOAT64, false));
            }
            float norm = (float) Math.sqrt(NDArrays.stack(squares).sum().getDouble());
            if (norm > max) {
                float scale = max / (norm + 1e-6f);
                for (NDArray g : gradients) {
                    g.muli(scale);
                }
            }
            scope.suppressNotUsedWarning();
            return norm;
        }
    }
}
