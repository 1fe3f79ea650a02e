package ai.djl.ttt.zoo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Model;
import ai.djl.inference.Predictor;
import ai.djl.modality.Input;
import ai.djl.modality.Output;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.translate.TranslateException;
import ai.djl.translate.TranslatorFactory;
import ai.djl.ttt.config.LayerType;
import ai.djl.ttt.lm.TestModels;
import ai.djl.ttt.training.ByteTokenizer;
import ai.djl.ttt.training.ModelDirectory;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * DJL Serving's protocol ({@link Input} → {@link Output}) through DJL's {@code Criteria}, {@code
 * Translator} and {@code Predictor}; serving.properties defaults; serializable factories.
 */
class ServingTest {

    @TempDir static Path dir;

    private static Path model;

    @BeforeAll
    static void save() throws Exception {
        model = TestModels.saved(dir.resolve("tiny-linear"));
    }

    private static JsonObject body(Output output) {
        assertEquals(200, output.getCode());
        assertEquals("application/json", output.getProperty("Content-Type", null));
        return JsonParser.parseString(output.getData().getAsString()).getAsJsonObject();
    }

    @Test
    void generatesAndScoresAsTheTypedTranslators() throws Exception {
        try (ZooModel<Input, Output> serving =
                        ZooCriteria.byPath(model, Input.class, Output.class).build().loadModel();
                Predictor<Input, Output> predictor = serving.newPredictor();
                ZooModel<String, String> text =
                        ZooCriteria.byPath(model, String.class, String.class)
                                .optArgument("maxNewTokens", 7)
                                .optArgument("temperature", 0.8)
                                .optArgument("seed", 3)
                                .build()
                                .loadModel();
                Predictor<String, String> textPredictor = text.newPredictor();
                ZooModel<String, TextScore> scoring =
                        ZooCriteria.byPath(model, String.class, TextScore.class)
                                .build()
                                .loadModel();
                Predictor<String, TextScore> scorer = scoring.newPredictor()) {
            String expected = textPredictor.predict("the state ");
            JsonObject generated =
                    body(
                            predictor.predict(
                                    ZooCriteria.json(
                                            "{\"inputs\": \"the state \", \"parameters\":"
                                                    + " {\"max_new_tokens\": 7, \"temperature\":"
                                                    + " 0.8, \"seed\": 3}}")));
            assertEquals(expected, generated.get("generated_text").getAsString());
            assertEquals(7, expected.getBytes(java.nio.charset.StandardCharsets.UTF_8).length);

            TextScore score = scorer.predict("layer weights");
            JsonObject scored =
                    body(
                            predictor.predict(
                                    ZooCriteria.json(
                                            "{\"inputs\": \"layer weights\", \"parameters\":"
                                                    + " {\"task\": \"score\"}}")));
            assertEquals(score.tokens().length, scored.get("tokens").getAsInt());
            assertEquals(
                    score.totalLogLikelihood(), scored.get("log_likelihood").getAsDouble(), 1e-9);
            assertEquals(score.bitsPerByte(), scored.get("bits_per_byte").getAsDouble(), 1e-9);
            assertEquals(
                    score.logLikelihoods().length,
                    scored.get("token_log_likelihoods").getAsJsonArray().size());

            // plain text is the prompt, with the defaults (greedy, 64 tokens)
            Input plain = new Input();
            plain.add("the state ");
            String greedy = body(predictor.predict(plain)).get("generated_text").getAsString();
            try (ZooModel<String, String> defaults =
                            ZooCriteria.byPath(model, String.class, String.class)
                                    .build()
                                    .loadModel();
                    Predictor<String, String> p = defaults.newPredictor()) {
                assertEquals(p.predict("the state "), greedy);
            }
        }
    }

    @Test
    void badRequestsSayWhatWasExpected() throws Exception {
        try (ZooModel<Input, Output> serving =
                        ZooCriteria.byPath(model, Input.class, Output.class).build().loadModel();
                Predictor<Input, Output> predictor = serving.newPredictor()) {
            String[][] cases = {
                {"[1, 2]", "expected a JSON object"},
                {"{\"parameters\": {}}", "\"inputs\": expected one text"},
                {"{\"inputs\": [\"a\", \"b\"]}", "\"inputs\": expected one text"},
                {
                    "{\"inputs\": \"a\", \"parameters\": 3}",
                    "\"parameters\": expected a JSON object"
                },
                {"{\"inputs\": \"a\", \"parameters\": {\"task\": \"x\"}}", "\"task\": expected"},
                {"{\"inputs\": ", "not valid JSON"},
                // misplaced and unknown keys are named, with the allowed ones
                {
                    "{\"inputs\": \"a\", \"task\": \"score\"}",
                    "\"task\" belongs in \"parameters\": {\"inputs\": \"...\", \"parameters\":"
                            + " {\"task\": ...}}"
                },
                {
                    "{\"inputs\": \"a\", \"max_new_tokens\": 3}",
                    "\"max_new_tokens\" belongs in \"parameters\""
                },
                {
                    "{\"inputs\": \"a\", \"prompt\": \"b\"}",
                    "unknown key \"prompt\" at the top level; allowed: inputs, parameters"
                },
                {
                    "{\"inputs\": \"a\", \"parameters\": {\"max_new_token\": 3}}",
                    "unknown parameter \"max_new_token\"; allowed: task, max_new_tokens,"
                            + " temperature, top_k, top_p, seed, stop_tokens, timeout_ms"
                },
                {
                    "{\"inputs\": \"ab\", \"parameters\": {\"task\": \"score\", \"seed\": 3}}",
                    "\"seed\" does not apply to task \"score\"; allowed with task \"score\": task,"
                            + " timeout_ms"
                },
                // a bad value names the parameter and what it expects
                {
                    "{\"inputs\": \"a\", \"parameters\": {\"temperature\": \"hot\"}}",
                    "\"temperature\": expected a number >= 0, got \"hot\""
                },
                {
                    "{\"inputs\": \"a\", \"parameters\": {\"max_new_tokens\": \"NaN\"}}",
                    "\"max_new_tokens\": expected an integer >= 1, got \"NaN\""
                },
                {
                    "{\"inputs\": \"a\", \"parameters\": {\"max_new_tokens\": 7.5}}",
                    "\"max_new_tokens\": expected an integer >= 1, got 7.5"
                },
                {
                    "{\"inputs\": \"a\", \"parameters\": {\"stop_tokens\": [null]}}",
                    "\"stop_tokens\": expected an array of token ids (integers >= 0), got [null]"
                },
                {
                    "{\"inputs\": \"a\", \"parameters\": {\"top_p\": 2}}",
                    "topP must be in (0, 1], got 2.0"
                },
                // strict JSON: NaN, comments, trailing text are not JSON
                {
                    "{\"inputs\": \"a\", \"parameters\": {\"temperature\": NaN}}",
                    "not valid JSON (at line 1 column"
                },
                {"{\"inputs\": \"a\"} {}", "not valid JSON (at line 1 column 18)"},
                // echoes are bounded
                {
                    "{\"inputs\": \"a\", \"" + "k".repeat(100_000) + "\": 1}",
                    "unknown key \"kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk… (100000 characters)\""
                }
            };
            for (String[] c : cases) {
                TranslateException e =
                        assertThrows(
                                TranslateException.class,
                                () -> predictor.predict(ZooCriteria.json(c[0])));
                Throwable cause = e.getCause() == null ? e : e.getCause();
                assertInstanceOf(IllegalArgumentException.class, cause, c[0]);
                assertTrue(cause.getMessage().contains(c[1]), c[0] + ": " + cause.getMessage());
                assertTrue(cause.getMessage().length() < 300, cause.getMessage());
                assertEquals(1, cause.getMessage().lines().count(), cause.getMessage());
            }
        }
    }

    @Test
    void servingPropertiesDefaultsAreReadAndKeptAcrossSaves() throws Exception {
        Path copy = dir.resolve("with-defaults");
        try (Model m = Model.newInstance(ModelDirectory.MODEL_NAME)) {
            m.setBlock(
                    TestModels.model(
                            TestModels.tiny(LayerType.LINEAR).toBuilder().setVocabSize(256).build(),
                            m.getNDManager(),
                            5));
            ModelDirectory.save(copy, m, new ByteTokenizer(), null, null);
            Path file = copy.resolve("serving.properties");
            // the user's default, and a key DJL needs removed
            String edited =
                    Files.readString(file).replace("engine=PyTorch\n", "") + "maxNewTokens=3\n";
            Files.writeString(file, edited);
            ModelDirectory.save(copy, m, new ByteTokenizer(), null, null);
            String saved = Files.readString(file);
            assertTrue(saved.startsWith(edited), saved);
            assertTrue(saved.endsWith("# added by ttt-djl\nengine=PyTorch\n"), saved);
        }
        // DJL's own loader (what DJL Serving uses) and the ttt zoo both read the default
        ZooCriteria.withModelsFolder(
                dir,
                () -> {
                    try (ZooModel<Input, Output> djl =
                                    ZooCriteria.byPath(copy, Input.class, Output.class)
                                            .build()
                                            .loadModel();
                            Predictor<Input, Output> djlPredictor = djl.newPredictor();
                            ZooModel<String, String> zoo =
                                    ZooCriteria.artifact(
                                                    "with-defaults", String.class, String.class)
                                            .build()
                                            .loadModel();
                            Predictor<String, String> zooPredictor = zoo.newPredictor();
                            ZooModel<String, String> overridden =
                                    ZooCriteria.artifact(
                                                    "with-defaults", String.class, String.class)
                                            .optArgument("maxNewTokens", 5)
                                            .build()
                                            .loadModel();
                            Predictor<String, String> overriddenPredictor =
                                    overridden.newPredictor()) {
                        Input plain = new Input();
                        plain.add("the state ");
                        String fromServing =
                                body(djlPredictor.predict(plain))
                                        .get("generated_text")
                                        .getAsString();
                        assertEquals(3, fromServing.length());
                        assertEquals(fromServing, zooPredictor.predict("the state "));
                        String five = overriddenPredictor.predict("the state ");
                        assertEquals(
                                5,
                                five.length(),
                                "a Criteria argument overrides serving.properties");
                        assertNotEquals(fromServing, five);
                    }
                });
    }

    @Test
    void factoriesSurviveJavaSerialization() throws Exception {
        for (Object factory : new Object[] {new TttTranslatorFactory(), new TttBlockFactory()}) {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
                out.writeObject(factory);
            }
            try (ObjectInputStream in =
                    new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
                Object back = in.readObject();
                assertEquals(factory.getClass(), back.getClass());
                if (back instanceof TranslatorFactory t) {
                    assertTrue(t.isSupported(Input.class, Output.class));
                }
            }
        }
    }
}
