package ai.djl.ttt.zoo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Model;
import ai.djl.inference.Predictor;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.ttt.config.LayerType;
import ai.djl.ttt.io.OfficialWeights;
import ai.djl.ttt.lm.CausalLm;
import ai.djl.ttt.lm.TestModels;
import ai.djl.ttt.training.ByteTokenizer;
import ai.djl.ttt.training.ModelDirectory;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A model exported in the official format ({@link OfficialWeights#save}), under the PyTorch or the
 * JAX names, loads through DJL's Criteria as the official checkpoint it is, and computes what the
 * saved model computes.
 */
class ExportedModelZooTest {

    @TempDir static Path models;

    @BeforeAll
    static void saveAndExport() throws Exception {
        System.setProperty(TttModelZoo.MODELS_PROPERTY, models.toString());
        try (Model model = Model.newInstance(ModelDirectory.MODEL_NAME)) {
            CausalLm lm =
                    TestModels.model(
                            TestModels.tiny(LayerType.MLP).toBuilder().setVocabSize(256).build(),
                            model.getNDManager(),
                            9);
            model.setBlock(lm);
            Path saved = models.resolve("saved");
            ModelDirectory.save(saved, model, new ByteTokenizer(), null, null);
            OfficialWeights.save(
                    lm, models.resolve("exported"), List.of(saved.resolve("tokenizer.txt")));
            OfficialWeights.save(
                    lm, models.resolve("exported-jax"), OfficialWeights.Format.JAX, List.of());
        }
    }

    @AfterAll
    static void clear() {
        System.clearProperty(TttModelZoo.MODELS_PROPERTY);
    }

    @Test
    void exportedFolderLoadsThroughCriteriaWithTheSavedModelsLogitsAndText() throws Exception {
        try (ZooModel<NDList, NDList> saved =
                        ZooTest.zoo(NDList.class, NDList.class, "saved").build().loadModel();
                ZooModel<NDList, NDList> exported =
                        ZooTest.zoo(NDList.class, NDList.class, "exported")
                                .optFilter("format", "official")
                                .build()
                                .loadModel();
                ZooModel<NDList, NDList> jax =
                        ZooTest.zoo(NDList.class, NDList.class, "exported-jax")
                                .build()
                                .loadModel();
                Predictor<NDList, NDList> a = saved.newPredictor();
                Predictor<NDList, NDList> b = exported.newPredictor();
                Predictor<NDList, NDList> c = jax.newPredictor();
                NDManager manager = NDManager.newBaseManager()) {
            NDArray ids = TestModels.ids(manager, 2, 35, 256, 4);
            NDArray expected = a.predict(new NDList(ids)).head();
            NDArray actual = b.predict(new NDList(ids)).head();
            assertEquals(expected.getShape(), actual.getShape());
            assertTrue(expected.contentEquals(actual), "logits of the exported folder differ");
            assertTrue(
                    expected.contentEquals(c.predict(new NDList(ids)).head()),
                    "logits of the folder exported under the JAX names differ");
        }
        // the byte tokenizer came along (tokenizer.txt), so text in, text out works the same
        String[] texts = new String[2];
        int i = 0;
        for (String artifact : List.of("saved", "exported")) {
            try (ZooModel<String, String> model =
                            ZooTest.zoo(String.class, String.class, artifact)
                                    .optArgument("maxNewTokens", 12)
                                    .build()
                                    .loadModel();
                    Predictor<String, String> predictor = model.newPredictor()) {
                texts[i++] = predictor.predict("the state ");
            }
        }
        assertEquals(texts[0], texts[1]);
    }
}
