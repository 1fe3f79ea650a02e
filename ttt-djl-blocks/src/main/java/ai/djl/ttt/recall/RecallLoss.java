package ai.djl.ttt.recall;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.training.loss.Loss;
import ai.djl.ttt.training.LmLoss;

/**
 * Cross-entropy of logits {@code (B, T, V)} against targets {@code (B, T)}, averaged over the
 * scored positions only (targets other than {@link AssociativeRecall#IGNORED}): on MQAR the model
 * is trained on the query keys' answers and nothing else, as in Zoology.
 */
public final class RecallLoss extends Loss {

    /** Creates the loss, named {@code RecallLoss} in DJL's metrics and logs. */
    public RecallLoss() {
        super("RecallLoss");
    }

    /**
     * {@inheritDoc}
     *
     * @throws IllegalArgumentException if no position is scored
     */
    @Override
    public NDArray evaluate(NDList labels, NDList predictions) {
        NDArray logits = predictions.head();
        NDArray targets = labels.head();
        NDArray scored = targets.gte(0).toType(logits.getDataType(), false); // (B, T)
        float count = scored.sum().getFloat();
        if (count == 0) {
            throw new IllegalArgumentException(
                    "no scored position in the batch: every target is "
                            + AssociativeRecall.IGNORED);
        }
        // ignored targets point at token 0 and are then masked out
        return LmLoss.perToken(logits, targets.maximum(0)).mul(scored).sum().div(count);
    }
}
