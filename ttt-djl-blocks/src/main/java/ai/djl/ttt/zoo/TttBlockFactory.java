package ai.djl.ttt.zoo;

import ai.djl.Model;
import ai.djl.nn.Block;
import ai.djl.nn.BlockFactory;
import ai.djl.ttt.config.TttConfig;
import ai.djl.ttt.lm.CausalLm;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * Rebuilds a {@link CausalLm} from the {@code config.json} of its model directory, so that DJL's
 * own loader ({@code Criteria.optModelPath(dir)}) needs no code: {@code ttt train} writes this
 * class's name as {@code blockFactory} in the directory's {@code serving.properties}.
 */
public final class TttBlockFactory implements BlockFactory {

    private static final long serialVersionUID = 1L;

    /** {@inheritDoc} */
    @Override
    public Block newBlock(Model model, Path modelPath, Map<String, ?> arguments)
            throws IOException {
        Path config = modelPath.resolve("config.json");
        if (!Files.isRegularFile(config)) {
            throw new FileNotFoundException(
                    modelPath
                            + " has no config.json: its serving.properties names TttBlockFactory,"
                            + " which rebuilds the model from it (a folder written by 'ttt train'"
                            + " has one)");
        }
        return new CausalLm(TttConfig.load(config));
    }
}
