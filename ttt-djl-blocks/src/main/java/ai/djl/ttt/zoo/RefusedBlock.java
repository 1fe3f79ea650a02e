package ai.djl.ttt.zoo;

import ai.djl.MalformedModelException;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import java.io.DataInputStream;

/**
 * What {@link TttBlockFactory} returns for a model folder whose weights file fails its checks:
 * DJL's loader then reads the weights into it, and it answers with the {@link
 * MalformedModelException} that names the file and the field. A {@code BlockFactory} may throw only
 * an {@code IOException}; this way {@code Criteria.loadModel} reports a corrupt weights file as
 * every other path does, before the model the config describes is built.
 */
final class RefusedBlock extends AbstractBlock {

    private final String reason;

    RefusedBlock(String reason) {
        this.reason = reason;
    }

    /** {@inheritDoc} */
    @Override
    public void loadParameters(NDManager manager, DataInputStream is)
            throws MalformedModelException {
        throw new MalformedModelException(reason);
    }

    /** {@inheritDoc} */
    @Override
    protected NDList forwardInternal(
            ParameterStore parameterStore,
            NDList inputs,
            boolean training,
            PairList<String, Object> params) {
        throw new IllegalStateException(reason);
    }

    /** {@inheritDoc} */
    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        throw new IllegalStateException(reason);
    }
}
