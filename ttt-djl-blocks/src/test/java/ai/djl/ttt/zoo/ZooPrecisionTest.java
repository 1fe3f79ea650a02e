package ai.djl.ttt.zoo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.inference.Predictor;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.ttt.lm.CausalLm;
import ai.djl.ttt.lm.Generator;
import ai.djl.ttt.lm.SamplingConfig;
import ai.djl.ttt.lm.TestModels;
import ai.djl.ttt.runtime.Precision;
import ai.djl.ttt.training.ByteTokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code dtype} argument of the zoo, of DJL's own loader and of {@code serving.properties}: it
 * sets the model's precision; bfloat16 is an {@link IllegalArgumentException} before any weight is
 * read.
 */
class ZooPrecisionTest {

    @TempDir static Path models;

    @BeforeAll
    static void saveModels() throws Exception {
        System.setProperty(TttModelZoo.MODELS_PROPERTY, models.toString());
        for (String name : new String[] {"half-linear", "half-props"}) {
            TestModels.saved(models.resolve(name));
        }
        Path props = models.resolve("half-props").resolve("serving.properties");
        Files.writeString(props, Files.readString(props) + "\ndtype=float16\n");
    }

    @AfterAll
    static void clear() {
        System.clearProperty(TttModelZoo.MODELS_PROPERTY);
    }

    @Test
    void theDtypeArgumentSetsTheModelsPrecision() throws Exception {
        Criteria<String, String> criteria =
                ZooTest.zoo(String.class, String.class, "half-linear")
                        .optArgument("maxNewTokens", 10)
                        .optArgument("dtype", "float16")
                        .build();
        try (ZooModel<String, String> model = criteria.loadModel();
                Predictor<String, String> predictor = model.newPredictor()) {
            CausalLm lm = (CausalLm) model.getBlock();
            assertEquals(Precision.FLOAT16, lm.getPrecision());
            String text = predictor.predict("the state ");
            ByteTokenizer bytes = new ByteTokenizer();
            long[] expected =
                    new Generator(lm, model.getNDManager())
                            .generate(
                                    List.of(bytes.encode("the state ")),
                                    SamplingConfig.builder().optMaxNewTokens(10).build(),
                                    null)
                            .get(0);
            assertEquals(bytes.decode(expected), text);
        }
        try (ZooModel<String, String> plain =
                ZooTest.zoo(String.class, String.class, "half-linear").build().loadModel()) {
            assertEquals(Precision.FLOAT32, ((CausalLm) plain.getBlock()).getPrecision());
        }
    }

    @Test
    void servingPropertiesAndDjlsOwnLoaderTakeTheDtypeToo() throws Exception {
        try (ZooModel<String, String> model =
                ZooTest.zoo(String.class, String.class, "half-props").build().loadModel()) {
            assertEquals(Precision.FLOAT16, ((CausalLm) model.getBlock()).getPrecision());
        }
        Criteria<String, String> direct =
                ZooCriteria.documented(models.resolve("half-linear"), String.class, String.class)
                        .optArgument("dtype", "float16")
                        .build();
        try (ZooModel<String, String> model = direct.loadModel()) {
            assertEquals(Precision.FLOAT16, ((CausalLm) model.getBlock()).getPrecision());
        }
    }

    @Test
    void bfloat16IsRefusedBeforeAnyWeightIsRead() {
        for (Criteria<String, String> criteria :
                List.of(
                        ZooTest.zoo(String.class, String.class, "half-linear")
                                .optArgument("dtype", "bfloat16")
                                .build(),
                        ZooCriteria.documented(
                                        models.resolve("half-linear"), String.class, String.class)
                                .optArgument("dtype", "bfloat16")
                                .build())) {
            Exception e = assertThrows(Exception.class, criteria::loadModel);
            Throwable cause = e;
            while (!(cause instanceof IllegalArgumentException) && cause.getCause() != null) {
                cause = cause.getCause();
            }
            assertTrue(
                    cause instanceof IllegalArgumentException
                            && cause.getMessage().contains("GetScalarTypeFromDType"),
                    e.toString());
        }
    }
}
