package ai.djl.ttt.nn.inner;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.initializer.Initializer;
import java.util.List;

/**
 * The inner model of a TTT layer: the small model whose weights are the layer's hidden state,
 * trained on the tokens it reads (paper §2). This is the seam where inner models plug in; {@link
 * DenseChain} (TTT-Linear, TTT-MLP of any depth) is the implementation today.
 *
 * <p>An inner model says which weights it has (its initial weights {@code W_0} are parameters of
 * the layer, learned by the outer loop), how they are laid out in the recurrent state ({@link
 * FastWeights}, one array per dense layer, which the NDList protocol carries), and how one
 * mini-batch of tokens moves the state in the two forms of the inner loop: the dual form for
 * prefill and training (a few batched products per mini-batch) and the primal form for decoding.
 * The learning rule is not the model's: every step asks the {@link InnerOptimizer}; the loss's
 * gradient at the model's output comes from the {@link ReconstructionLoss}.
 *
 * <p>Arrays are {@code (N, k, ·)} with heads folded into the batch ({@code N = B·H}).
 */
public interface InnerModel {

    /**
     * Returns the initial weights the layer declares as parameters, per head, in the official
     * order.
     *
     * @param heads H
     * @return the specifications, e.g. {@code W1 (H, f, f), b1 (H, 1, f)} for TTT-Linear
     */
    List<Weight> weights(int heads);

    /**
     * Returns the number of arrays of each kind in the state (weights, pending gradients): the
     * layout of the state in the NDList protocol.
     *
     * @return 1 for TTT-Linear, 2 for TTT-MLP
     */
    int depth();

    /**
     * Returns the state at the start of a sequence: the learned initial weights for every row.
     *
     * @param weights the values of {@link #weights}, in that order, each {@code (H, ·, ·)}
     * @param batch B
     * @return the state, {@code (B·H, ·, ·)} per array, with no pending gradient
     */
    FastWeights initialState(List<NDArray> weights, long batch);

    /**
     * One mini-batch in the dual form (reference.md §1.4, §1.6), without materialising per-token
     * weights.
     *
     * @param state the weights at the start of the mini-batch; must have no pending gradients
     * @param batch the mini-batch and its loss, built with {@link MiniBatch#dual}
     * @param optimizer the inner learner
     * @param inPlace whether the weights may be updated in place: only when the scan made them (no
     *     caller holds them) and nothing records gradients
     * @return the pre-norm outputs {@code Z̄} {@code (N, k, f)} and the next state
     */
    Step dualStep(FastWeights state, MiniBatch batch, InnerOptimizer optimizer, boolean inPlace);

    /**
     * Tokens in the primal form (reference.md §1.5): the recurrent form used to decode one token at
     * a time. It can start anywhere inside a mini-batch, continuing the pending gradients.
     *
     * @param state the weights at the last boundary and the pending gradients
     * @param batch the tokens and their loss, built with {@link MiniBatch#primal}
     * @param optimizer the inner learner
     * @return the pre-norm outputs {@code Z̄} {@code (N, k, f)} and the next state
     */
    Step primalStep(FastWeights state, MiniBatch batch, InnerOptimizer optimizer);

    /**
     * The reconstruction error of given weights on a block of tokens, for {@link InnerLossStats},
     * detached from autograd.
     *
     * @param weights the inner weights; pending gradients are ignored
     * @param keys the homogeneous training view {@code [XK, 1]}, {@code (N, k, f + 1)}
     * @param target {@code XV − XK}, {@code (N, k, f)}
     * @param loss the reconstruction loss of this pass
     * @return a scalar
     */
    NDArray reconstructionError(
            FastWeights weights, NDArray keys, NDArray target, ReconstructionLoss loss);

    /**
     * Returns the floating-point operations of the inner loop per token and head in the dual form
     * (matrix products only, a multiply-add counts 2).
     *
     * @param miniBatchSize b
     * @return FLOPs per token and head
     */
    double flopsPerToken(int miniBatchSize);

    /**
     * An initial weight of the inner model, declared as a parameter of the layer.
     *
     * @param name the official state-dict name, e.g. {@code W1} or {@code b1}
     * @param shape {@code (H, f_in, f_out)} for a weight, {@code (H, 1, f_out)} for a bias
     * @param bias whether it is a bias (biases are not weight-decayed and start at zero)
     * @param initializer its initialisation
     */
    record Weight(String name, Shape shape, boolean bias, Initializer initializer) {}

    /**
     * The result of one step.
     *
     * @param output the pre-norm outputs {@code Z̄} of the step's tokens, {@code (N, k, f)}
     * @param next the state after the step's tokens
     */
    record Step(NDArray output, FastWeights next) {}
}
