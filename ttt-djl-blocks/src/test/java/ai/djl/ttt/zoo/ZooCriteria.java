package ai.djl.ttt.zoo;

import ai.djl.modality.Input;
import ai.djl.ndarray.NDList;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ModelLoader;
import java.nio.file.Path;
import java.util.List;

/** How the zoo tests ask for models: the Criteria they load with and the requests they send. */
final class ZooCriteria {

    private ZooCriteria() {}

    /** DJL's own loader on a folder with the ttt translator factory, as DJL Serving loads it. */
    static <I, O> Criteria.Builder<I, O> byPath(Path dir, Class<I> in, Class<O> out) {
        return Criteria.builder()
                .setTypes(in, out)
                .optModelPath(dir)
                .optTranslatorFactory(new TttTranslatorFactory());
    }

    /** The Criteria model-zoo.md shows for a folder: the translator and block factory named. */
    static <I, O> Criteria.Builder<I, O> documented(Path dir, Class<I> in, Class<O> out) {
        return byPath(dir, in, out).optArgument("blockFactory", new TttBlockFactory());
    }

    /** {@link #documented} for raw arrays, built. */
    static Criteria<NDList, NDList> documentedOptModelPath(Path dir) {
        return documented(dir, NDList.class, NDList.class).build();
    }

    /** The ttt group's artifact of a name, found by DJL's search of the zoos. */
    static <I, O> Criteria.Builder<I, O> artifact(String artifact, Class<I> in, Class<O> out) {
        return Criteria.builder()
                .setTypes(in, out)
                .optGroupId(TttModelZoo.GROUP_ID)
                .optArtifactId(artifact);
    }

    /** The ttt group's TTT-Linear models, found by a filter rather than by name. */
    static Criteria<NDList, NDList> linearByFilter() {
        return Criteria.builder()
                .setTypes(NDList.class, NDList.class)
                .optGroupId(TttModelZoo.GROUP_ID)
                .optFilter("layer", "linear")
                .build();
    }

    /** One artifact of a zoo, by its folder name. */
    static Criteria<NDList, NDList> named(TttModelZoo zoo, String artifact) {
        return Criteria.builder()
                .setTypes(NDList.class, NDList.class)
                .optModelZoo(zoo)
                .optArtifactId(artifact)
                .build();
    }

    /** The artifact names a zoo lists, sorted. */
    static List<String> names(TttModelZoo zoo) {
        return zoo.getModelLoaders().stream().map(ModelLoader::getArtifactId).sorted().toList();
    }

    /** A DJL Serving request with a JSON body. */
    static Input json(String body) {
        Input input = new Input();
        input.addProperty("Content-Type", "application/json");
        input.add(body);
        return input;
    }

    /** A body of test code that may throw. */
    interface Body {
        /** Runs the body. */
        void run() throws Exception;
    }

    /**
     * Runs a body with the zoo's models folder ({@link TttModelZoo#MODELS_PROPERTY}) set to a
     * folder, putting back what was there before.
     */
    static void withModelsFolder(Path dir, Body body) throws Exception {
        String previous = System.getProperty(TttModelZoo.MODELS_PROPERTY);
        System.setProperty(TttModelZoo.MODELS_PROPERTY, dir.toString());
        try {
            body.run();
        } finally {
            if (previous == null) {
                System.clearProperty(TttModelZoo.MODELS_PROPERTY);
            } else {
                System.setProperty(TttModelZoo.MODELS_PROPERTY, previous);
            }
        }
    }
}
