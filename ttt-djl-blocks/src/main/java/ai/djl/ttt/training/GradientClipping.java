package ai.djl.ttt.training;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import java.util.ArrayList;
import java.util.List;

/**
 * Global-norm gradient clipping, as {@code torch.nn.utils.clip_grad_norm_}: if the L2 norm of all
 * gradients together exceeds {@code max}, every gradient is scaled by {@code max / norm}.
 *
 * <p>DJL's {@code Optimizer.optClipGrad} is not a substitute: on PyTorch it clamps each value from
 * above only, so negative gradients are not clipped at all (djl-notes.md §0.4).
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
        List<List<NDArray>> copies = new ArrayList<>();
        for (Pair<String, Parameter> p : block.getParameters()) {
            Parameter parameter = p.getValue();
            if (parameter.requiresGradient() && parameter.isInitialized()) {
                copies.add(List.of(parameter.getArray()));
            }
        }
        return clipGlobalNorm(copies, max);
    }

    /**
     * Clips the gradients that DJL's parameter server will use when a model trains on several
     * devices: for each parameter the sum of its copies' gradients (the server adds the devices'
     * gradients and updates every copy with the sum). The global norm is the norm of those sums;
     * every copy's gradient is scaled by the same factor, so the sum is scaled by it.
     *
     * @param copies for each parameter, its copies, one per device (a single copy on one device)
     * @param max the largest allowed global norm
     * @return the global norm of the summed gradients before clipping
     */
    public static float clipGlobalNorm(List<List<NDArray>> copies, float max) {
        try (NDScope scope = new NDScope()) {
            List<List<NDArray>> gradients = new ArrayList<>();
            NDList squares = new NDList();
            Device first = null;
            for (List<NDArray> parameter : copies) {
                List<NDArray> grads = new ArrayList<>();
                for (NDArray copy : parameter) {
                    if (copy.hasGradient()) {
                        grads.add(copy.getGradient());
                    }
                }
                if (grads.isEmpty()) {
                    continue;
                }
                gradients.add(grads);
                NDArray sum = grads.get(0);
                for (int i = 1; i < grads.size(); i++) {
                    sum = sum.add(grads.get(i).toDevice(sum.getDevice(), false));
                }
                first = first == null ? sum.getDevice() : first;
                squares.add(
                        sum.mul(sum).sum().toType(DataType.FLOAT64, false).toDevice(first, false));
            }
            if (squares.isEmpty()) {
                return 0;
            }
            float norm = (float) Math.sqrt(NDArrays.stack(squares).sum().getDouble());
            if (norm > max) {
                float scale = max / (norm + 1e-6f);
                for (List<NDArray> grads : gradients) {
                    for (NDArray g : grads) {
                        g.muli(scale);
                    }
                }
            }
            scope.suppressNotUsedWarning();
            return norm;
        }
    }
}
