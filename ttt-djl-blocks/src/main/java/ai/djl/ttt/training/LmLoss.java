package ai.djl.ttt.training;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.training.loss.Loss;

/**
 * Mean next-token cross-entropy (nats per token) of logits {@code (B, T, V)} against labels {@code
 * (B, T)}.
 *
 * <p>Wraps DJL's {@code SoftmaxCrossEntropyLoss}, flattening to {@code (B·T, V)} first: in DJL
 * 0.36.0 its sparse-label path on 3-D logits is wrong (the {@code pick} shape bug, djl-notes.md
 * §0.3), silently so when B = T.
 */
public final class LmLoss extends Loss {

    private final Loss crossEntropy = Loss.softmaxCrossEntropyLoss();

    /** Creates the loss, named {@code LmLoss} in DJL's metrics and logs. */
    public LmLoss() {
        super("LmLoss");
    }

    /** {@inheritDoc} */
    @Override
    public NDArray evaluate(NDList labels, NDList predictions) {
        NDArray logits = predictions.head();
        long vocab = logits.getShape().getLastDimension();
        return crossEntropy.evaluate(
                new NDList(labels.head().reshape(-1)), new NDList(logits.reshape(-1, vocab)));
    }

    /**
     * The cross-entropy of each token, not averaged: for losses by position.
     *
     * @param logits {@code (B, T, V)}
     * @param labels {@code (B, T)} int64 token ids
     * @return {@code (B, T)}, nats
     */
    public static NDArray perToken(NDArray logits, NDArray labels) {
        int vocab = (int) logits.getShape().getLastDimension();
        // log p(label) by a one-hot product: DJL 0.36.0's pick has the shape bug of djl-notes.md
        // §0.3
        NDArray oneHot = labels.oneHot(vocab, logits.getDataType());
        return logits.logSoftmax(2).mul(oneHot).sum(new int[] {2}).neg();
    }
}
