package ai.djl.ttt.examples;

import ai.djl.ttt.LayerType;
import ai.djl.ttt.TttConfig;

/**
 * Floating-point operations of one sequence layer's forward over {@code T} tokens (a multiply-add
 * counts 2), counting only matrix products — the element-wise work is a few percent. The formulas
 * are written out in {@code docs/benchmarks.md}.
 */
final class LayerFlops {

    /** The block length of {@code LinearAttention}'s chunked form. */
    private static final double LINEAR_ATTENTION_BLOCK = 64;

    private LayerFlops() {}

    /**
     * The FLOPs of a forward.
     *
     * @param config the layer's config (C, H, f, b, share_qk, use_gate)
     * @param tokens T
     * @return FLOPs
     */
    static double forward(TttConfig config, long tokens) {
        double t = tokens;
        double c = config.getHiddenSize();
        double f = config.getHeadDim();
        double b = config.getMiniBatchSize();
        double h = config.getNumAttentionHeads();
        LayerType type = config.getLayerType();
        // q, k, v, o projections (k_proj absent with share_qk), the gate's projection if any
        double projections = (config.isShareQk() ? 3 : 4) + (config.isUseGate() ? 1 : 0);
        double flops = projections * 2 * t * c * c;
        if (type == LayerType.LINEAR_ATTENTION) {
            // per head and block of 64 tokens: Q Kᵀ and (·) V inside the block (2 × 2 T·64·f),
            // the block's Kᵀ V and Q S (2 × 2 T f²)
            return flops + 4 * t * c * (LINEAR_ATTENTION_BLOCK + f);
        }
        if (type == LayerType.ATTENTION) {
            // Q Kᵀ and softmax(·) V over the full T × T square (no causal skipping on CPU)
            return flops + 2 * 2 * t * t * c;
        }
        flops += 2 * t * c * h; // the inner learning rate: one C → H product per token
        if (type == LayerType.LINEAR) {
            // per head and mini-batch: K W, Q W, the update (3 × 2 b f²); Q Kᵀ, (E ⊙ A) G (2 × 2 b²
            // f)
            return flops + t * c * (6 * f + 4 * b);
        }
        // TTT-MLP, f → 4f → f: training forward 16 b f², back through W2 8 b f², test forward
        // 16 b f², updates 16 b f²; b² terms: Q Kᵀ 2 b² f, mixing 8 b² f, X̄1 X1ᵀ 8 b² f, mixing 2
        // b² f
        return flops + t * c * (56 * f + 20 * b);
    }
}
