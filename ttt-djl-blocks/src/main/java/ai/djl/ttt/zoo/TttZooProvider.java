package ai.djl.ttt.zoo;

import ai.djl.repository.zoo.ModelZoo;
import ai.djl.repository.zoo.ZooProvider;

/**
 * Registers the {@link TttModelZoo} with DJL (through {@code
 * META-INF/services/ai.djl.repository.zoo.ZooProvider}).
 */
public final class TttZooProvider implements ZooProvider {

    /** {@inheritDoc} */
    @Override
    public ModelZoo getModelZoo() {
        return new TttModelZoo();
    }
}
