package ai.djl.ttt.zoo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Application;
import ai.djl.MalformedModelException;
import ai.djl.Model;
import ai.djl.engine.EngineException;
import ai.djl.inference.Predictor;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.LambdaBlock;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.repository.MRL;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ModelNotFoundException;
import ai.djl.repository.zoo.ModelZoo;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.training.ParameterStore;
import ai.djl.translate.NoBatchifyTranslator;
import ai.djl.translate.NoopTranslator;
import ai.djl.translate.TranslateException;
import ai.djl.translate.TranslatorContext;
import ai.djl.ttt.GradOnThread;
import ai.djl.ttt.config.LayerType;
import ai.djl.ttt.io.HostileFiles;
import ai.djl.ttt.io.ParityCheck;
import ai.djl.ttt.io.ReferenceCase;
import ai.djl.ttt.lm.CausalLm;
import ai.djl.ttt.lm.Generator;
import ai.djl.ttt.lm.SamplingConfig;
import ai.djl.ttt.lm.TestModels;
import ai.djl.ttt.training.ByteTokenizer;
import ai.djl.util.PairList;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Models saved by ttt-djl and official checkpoints, through DJL's Criteria, ZooModel and Predictor.
 */
class ZooTest {

    @TempDir static Path models;

    private static final List<String> PROMPTS = List.of("the state ", "A", "layer: 42 ");

    @BeforeAll
    static void saveModels() throws Exception {
        System.setProperty(TttModelZoo.MODELS_PROPERTY, models.toString());
        for (LayerType type : LayerType.values()) {
            TestModels.saved(models.resolve("tiny-" + type.officialName()), type, 5);
        }
        writeOfficialCheckpoint(models.resolve("official-decode-linear"));
    }

    @AfterAll
    static void clear() {
        System.clearProperty(TttModelZoo.MODELS_PROPERTY);
    }

    /**
     * The decode_linear reference as an official checkpoint: config.json, model.safetensors,
     * tokenizer.json.
     */
    static void writeOfficialCheckpoint(Path dir) throws Exception {
        Files.createDirectories(dir);
        Path fixture = Path.of("src/test/resources/ttt-reference/decode_linear");
        Files.copy(fixture.resolve("config.json"), dir.resolve("config.json"));
        Files.copy(
                Path.of("src/test/resources/tokenizers/word-level.json"),
                dir.resolve("tokenizer.json"));
        try (NDManager manager = NDManager.newBaseManager();
                ReferenceCase c = ReferenceCase.load(manager, fixture)) {
            NDList params = new NDList();
            for (String name : c.parameters().names()) {
                NDArray a = c.tensors().get(name).duplicate();
                a.setName(name);
                params.add(a);
            }
            try (OutputStream os = Files.newOutputStream(dir.resolve("model.safetensors"))) {
                params.encode(os, NDList.Encoding.SAFETENSORS);
            }
        }
    }

    static <I, O> Criteria.Builder<I, O> zoo(Class<I> in, Class<O> out, String artifact) {
        return ZooCriteria.artifact(artifact, in, out)
                .optApplication(Application.NLP.TEXT_GENERATION);
    }

    @Test
    void zooListsEveryModelDirectory() {
        List<String> names = new ArrayList<>();
        for (List<MRL> mrls : ModelZoo.listModels().values()) {
            for (MRL mrl : mrls) {
                if (TttModelZoo.GROUP_ID.equals(mrl.getGroupId())) {
                    names.add(mrl.getArtifactId());
                }
            }
        }
        assertEquals(
                List.of(
                        "official-decode-linear",
                        "tiny-attention",
                        "tiny-linear",
                        "tiny-linear_attention",
                        "tiny-mlp"),
                names.stream().sorted().toList());
    }

    @Test
    void savedModelGeneratesThroughCriteriaAsTheGeneratorDoes() throws Exception {
        for (LayerType type : LayerType.values()) {
            Criteria<String, String> criteria =
                    zoo(String.class, String.class, "tiny-" + type.officialName())
                            .optArgument("maxNewTokens", 12)
                            .build();
            try (ZooModel<String, String> model = criteria.loadModel();
                    Predictor<String, String> predictor = model.newPredictor()) {
                String text = predictor.predict("the state ");
                CausalLm lm = (CausalLm) model.getBlock();
                ByteTokenizer bytes = new ByteTokenizer();
                long[] expected =
                        new Generator(lm, model.getNDManager())
                                .generate(
                                        List.of(bytes.encode("the state ")),
                                        // the zoo's documented default: as ttt generate
                                        SamplingConfig.builder()
                                                .optMaxNewTokens(12)
                                                .optTemperature(0.8)
                                                .optTopK(40)
                                                .optSeed(42)
                                                .build(),
                                        null)
                                .get(0);
                assertEquals(bytes.decode(expected), text, type.toString());
                assertEquals(PROMPTS.size(), predictor.batchPredict(PROMPTS).size());
                assertEquals(predictor.predict("A"), predictor.batchPredict(PROMPTS).get(1));
            }
        }
    }

    @Test
    void filtersChooseTheModel() throws Exception {
        Criteria<String, String> mlp =
                Criteria.builder()
                        .setTypes(String.class, String.class)
                        .optGroupId(TttModelZoo.GROUP_ID)
                        .optFilter("layer", "mlp")
                        .optFilter("format", "saved")
                        .build();
        try (ZooModel<String, String> model = mlp.loadModel()) {
            assertEquals(LayerType.MLP, ((CausalLm) model.getBlock()).getConfig().getLayerType());
        }
        Criteria<String, String> none =
                Criteria.builder()
                        .setTypes(String.class, String.class)
                        .optGroupId(TttModelZoo.GROUP_ID)
                        .optFilter("layer", "rnn")
                        .build();
        assertThrows(ModelNotFoundException.class, none::loadModel);
    }

    @Test
    void officialCheckpointLoadsThroughTheSameCriteriaPath() throws Exception {
        Path fixture = Path.of("src/test/resources/ttt-reference/decode_linear");
        try (ZooModel<NDList, NDList> model =
                        zoo(NDList.class, NDList.class, "official-decode-linear")
                                .build()
                                .loadModel();
                Predictor<NDList, NDList> predictor = model.newPredictor();
                NDManager manager = NDManager.newBaseManager();
                ReferenceCase c = ReferenceCase.load(manager, fixture)) {
            NDArray logits = predictor.predict(new NDList(c.tensors().get("input_ids"))).head();
            double err = ParityCheck.relativeError(logits, c.tensors().get("full_logits"));
            assertTrue(err < 1e-5, "official checkpoint through Criteria: " + err);
        }
        try (ZooModel<String, String> model =
                        zoo(String.class, String.class, "official-decode-linear")
                                .optArgument("maxNewTokens", 5)
                                .build()
                                .loadModel();
                Predictor<String, String> predictor = model.newPredictor()) {
            String text = predictor.predict("the state");
            assertEquals(5, text.split(" ").length, text);
        }
    }

    /** Reports the shape of the logits the forward pass returned, asking for the last or all. */
    private static NoBatchifyTranslator<long[], Shape> logitsShape(boolean lastOnly) {
        return new NoBatchifyTranslator<>() {
            @Override
            public NDList processInput(TranslatorContext ctx, long[] ids) {
                if (lastOnly) {
                    ctx.setAttachment(TttZooModel.LAST_LOGITS, Boolean.TRUE);
                }
                return new NDList(ctx.getNDManager().create(ids).reshape(1, ids.length));
            }

            @Override
            public Shape processOutput(TranslatorContext ctx, NDList list) {
                return list.head().getShape();
            }
        };
    }

    @Test
    void aZooModelsPredictorsComputeTheLastLogitsOnlyWhenAsked() throws Exception {
        long[] ids = {1, 2, 3, 4, 5};
        try (ZooModel<String, String> model =
                zoo(String.class, String.class, "tiny-mlp").build().loadModel()) {
            assertTrue(model instanceof TttZooModel, model.getClass().getName());
            try (Predictor<long[], Shape> last = model.newPredictor(logitsShape(true));
                    Predictor<long[], Shape> all = model.newPredictor(logitsShape(false))) {
                assertEquals(new Shape(1, 1, 256), last.predict(ids));
                assertEquals(new Shape(1, 5, 256), all.predict(ids));
            }
            // a plain DJL predictor ignores the request: every position
            try (Predictor<long[], Shape> plain =
                    model.getWrappedModel().newPredictor(logitsShape(true))) {
                assertEquals(new Shape(1, 5, 256), plain.predict(ids));
            }
            try (NDManager manager = NDManager.newBaseManager()) {
                PairList<String, Object> bad = new PairList<>();
                bad.add(CausalLm.LOGITS, "first");
                IllegalArgumentException e =
                        assertThrows(
                                IllegalArgumentException.class,
                                () ->
                                        model.getBlock()
                                                .forward(
                                                        new ParameterStore(manager, false),
                                                        new NDList(
                                                                manager.create(ids).reshape(1, 5)),
                                                        false,
                                                        bad));
                assertEquals(
                        "option 'logits' must be 'all' or 'last', got 'first'", e.getMessage());
            }
        }
    }

    @Test
    void optModelPathRebuildsTheBlockWithoutCode() throws Exception {
        Path dir = models.resolve("tiny-linear");
        Criteria<NDList, NDList> raw =
                Criteria.builder().setTypes(NDList.class, NDList.class).optModelPath(dir).build();
        Criteria<String, String> text =
                ZooCriteria.documented(dir, String.class, String.class)
                        .optArgument("maxNewTokens", 8)
                        .build();
        try (ZooModel<NDList, NDList> model = raw.loadModel();
                Predictor<NDList, NDList> predictor = model.newPredictor();
                ZooModel<String, String> textModel = text.loadModel();
                Predictor<String, String> textPredictor = textModel.newPredictor();
                ZooModel<String, String> zooModel =
                        zoo(String.class, String.class, "tiny-linear")
                                .optArgument("maxNewTokens", 8)
                                .build()
                                .loadModel();
                Predictor<String, String> zooPredictor = zooModel.newPredictor();
                NDManager manager = NDManager.newBaseManager()) {
            NDArray ids = manager.arange(0, 40, 1, DataType.INT64).reshape(2, 20);
            NDArray logits = predictor.predict(new NDList(ids)).head();
            assertEquals(new Shape(2, 20, 256), logits.getShape());
            assertEquals(zooPredictor.predict("the layer"), textPredictor.predict("the layer"));
        }
    }

    @Test
    void scoringAndStreaming() throws Exception {
        try (ZooModel<String, TextScore> scorer =
                        zoo(String.class, TextScore.class, "tiny-mlp").build().loadModel();
                Predictor<String, TextScore> predictor = scorer.newPredictor();
                NDManager manager = NDManager.newBaseManager()) {
            String text = "the state learns the weights.";
            TextScore score = predictor.predict(text);
            long[] ids = new ByteTokenizer().encode(text);
            assertEquals(ids.length - 1, score.logLikelihoods().length);
            // the same from the raw logits
            NDArray logits =
                    scorer.getBlock()
                            .forward(
                                    new ParameterStore(manager, false),
                                    new NDList(manager.create(ids).reshape(1, -1)),
                                    false)
                            .head()
                            .get(0)
                            .logSoftmax(1);
            double total = 0;
            for (int t = 0; t + 1 < ids.length; t++) {
                total += logits.getFloat(t, ids[t + 1]);
            }
            assertEquals(total, score.totalLogLikelihood(), 1e-3);
            assertEquals(-total / (Math.log(2) * (ids.length - 1)), score.bitsPerByte(), 1e-6);
            assertTrue(score.perplexity() > 1);
            assertThrows(TranslateException.class, () -> predictor.predict("a"));
        }
        try (ZooModel<GenerationRequest, String> model =
                        zoo(GenerationRequest.class, String.class, "tiny-linear")
                                .optArgument("maxNewTokens", 20)
                                .optArgument("temperature", 0.9)
                                .optArgument("seed", 3)
                                .build()
                                .loadModel();
                Predictor<GenerationRequest, String> predictor = model.newPredictor()) {
            StringBuilder streamed = new StringBuilder();
            String text = predictor.predict(new GenerationRequest("é", streamed::append));
            assertEquals(text.replace("\uFFFD", ""), streamed.toString());
        }
    }

    @Test
    void aPredictionOnAThreadWithAutogradOnRunsWithoutItAndRestoresIt() throws Exception {
        // a block that records the grad mode its forward pass runs under
        List<Boolean> duringForward = new ArrayList<>();
        Block probe =
                new LambdaBlock(
                        list -> {
                            duringForward.add(JniUtils.isGradMode());
                            long length = list.head().getShape().get(1);
                            return new NDList(
                                    list.head().getManager().zeros(new Shape(1, length, 256)));
                        });
        try (Model model = Model.newInstance("probe")) {
            model.setBlock(probe);
            try (Predictor<String, TextScore> predictor =
                    model.newPredictor(new ScoringTranslator(new ByteTokenizer()))) {
                List<Boolean> after = gradModeAfterSuccessAndFailure(predictor, "abc", "a");
                assertEquals(List.of(false), duringForward);
                assertEquals(List.of(true, true), after, "restored after success and failure");
            }
        }
    }

    /**
     * On a thread with grad mode on, one prediction that succeeds and one that fails: the thread's
     * grad mode after each.
     */
    private static <I> List<Boolean> gradModeAfterSuccessAndFailure(
            Predictor<I, ?> predictor, I good, I bad) throws Exception {
        return GradOnThread.call(
                () -> {
                    predictor.predict(good);
                    boolean afterSuccess = JniUtils.isGradMode();
                    assertThrows(TranslateException.class, () -> predictor.predict(bad));
                    return List.of(afterSuccess, JniUtils.isGradMode());
                });
    }

    /**
     * Records the grad mode its predictions see after the forward pass; returns the logits' shape.
     */
    private static NoBatchifyTranslator<long[], Shape> recordingGradMode(List<Boolean> seen) {
        return new NoBatchifyTranslator<>() {
            @Override
            public NDList processInput(TranslatorContext ctx, long[] ids) {
                if (ids.length == 0) {
                    throw new IllegalArgumentException("no ids");
                }
                return new NDList(ctx.getNDManager().create(ids).reshape(1, ids.length));
            }

            @Override
            public Shape processOutput(TranslatorContext ctx, NDList list) {
                seen.add(JniUtils.isGradMode());
                return list.head().getShape();
            }
        };
    }

    @Test
    void aZooModelsPredictorsRunAnyTranslatorWithoutAutogradAndRestoreIt() throws Exception {
        try (ZooModel<NDList, NDList> model =
                zoo(NDList.class, NDList.class, "tiny-linear").build().loadModel()) {
            List<Boolean> seen = new ArrayList<>();
            try (Predictor<long[], Shape> predictor = model.newPredictor(recordingGradMode(seen))) {
                List<Boolean> after =
                        gradModeAfterSuccessAndFailure(
                                predictor, new long[] {1, 2, 3}, new long[0]);
                assertEquals(List.of(false), seen, "grad mode during the prediction");
                assertEquals(List.of(true, true), after, "restored after success and failure");
            }
        }
        // DJL's own NDList -> NDList translator, on an official checkpoint (whose parameters
        // require gradients): through a plain predictor the logits carry the autograd graph, so a
        // backward pass through them works; through the zoo's predictor there is none
        try (ZooModel<NDList, NDList> official =
                        zoo(NDList.class, NDList.class, "official-decode-linear")
                                .build()
                                .loadModel();
                Predictor<NDList, NDList> zooRaw = official.newPredictor();
                Predictor<NDList, NDList> plainRaw =
                        official.getWrappedModel().newPredictor(new NoopTranslator())) {
            assertTrue(GradOnThread.call(() -> recordsAGraph(plainRaw)), "the probe detects one");
            assertFalse(GradOnThread.call(() -> recordsAGraph(zooRaw)));
        }
    }

    /** Whether a prediction's logits can be differentiated, i.e. the forward recorded a graph. */
    private static boolean recordsAGraph(Predictor<NDList, NDList> predictor) throws Exception {
        try (NDManager manager = NDManager.newBaseManager()) {
            NDArray ids = manager.create(new long[] {1, 2, 3}).reshape(1, 3);
            PtNDArray loss = (PtNDArray) predictor.predict(new NDList(ids)).head().sum();
            try {
                JniUtils.backward(loss, (PtNDArray) loss.onesLike(), false, false);
                return true;
            } catch (EngineException e) {
                return false; // "does not require grad and does not have a grad_fn"
            }
        }
    }

    /**
     * Wraps the text-generation translator and records what its {@code processOutput} receives: the
     * logits' shape and the thread's grad mode.
     */
    private static NoBatchifyTranslator<String, String> recordingGeneration(
            List<Shape> shapes, List<Boolean> gradModes) {
        TextGenerationTranslator<String> generation =
                TextGenerationTranslator.plain(
                        new ByteTokenizer(), SamplingConfig.builder().optMaxNewTokens(3).build());
        return new NoBatchifyTranslator<>() {
            @Override
            public NDList processInput(TranslatorContext ctx, String prompt) {
                return generation.processInput(ctx, prompt);
            }

            @Override
            public String processOutput(TranslatorContext ctx, NDList list) {
                shapes.add(list.head().getShape());
                gradModes.add(JniUtils.isGradMode());
                return generation.processOutput(ctx, list);
            }
        };
    }

    @Test
    void theGenerationTranslatorAsksForTheLastLogitsAndTurnsAutogradOffItself() throws Exception {
        try (ZooModel<String, String> model =
                zoo(String.class, String.class, "tiny-mlp").build().loadModel()) {
            List<Shape> shapes = new ArrayList<>();
            List<Boolean> gradModes = new ArrayList<>();
            String zooText;
            try (Predictor<String, String> zoo =
                    model.newPredictor(recordingGeneration(shapes, gradModes))) {
                zooText = zoo.predict("the state ");
            }
            assertEquals(List.of(new Shape(1, 1, 256)), shapes, "the last position only");
            shapes.clear();
            gradModes.clear();
            // a plain DJL predictor: every position's logits, and autograd off only through the
            // translator
            try (Predictor<String, String> plain =
                    model.getWrappedModel().newPredictor(recordingGeneration(shapes, gradModes))) {
                String plainText = GradOnThread.call(() -> plain.predict("the state "));
                assertEquals(zooText, plainText);
            }
            assertEquals(List.of(new Shape(1, 10, 256)), shapes, "every position");
            assertEquals(List.of(false), gradModes, "grad mode during a plain prediction");
        }
    }

    @Test
    void concurrentPredictorsGiveTheSingleThreadResults() throws Exception {
        Criteria<String, String> criteria =
                zoo(String.class, String.class, "tiny-mlp")
                        .optArguments(
                                Map.of(
                                        "maxNewTokens",
                                        10,
                                        "temperature",
                                        0.8,
                                        "topK",
                                        20,
                                        "seed",
                                        5))
                        .build();
        try (ZooModel<String, String> model = criteria.loadModel()) {
            List<String> expected;
            try (Predictor<String, String> predictor = model.newPredictor()) {
                expected = predictor.batchPredict(PROMPTS);
            }
            ExecutorService pool = Executors.newFixedThreadPool(4);
            try {
                List<Future<List<String>>> futures = new ArrayList<>();
                for (int t = 0; t < 8; t++) {
                    futures.add(
                            pool.submit(
                                    () -> {
                                        try (Predictor<String, String> p = model.newPredictor()) {
                                            List<String> out = new ArrayList<>();
                                            for (String prompt : PROMPTS) {
                                                out.add(p.predict(prompt));
                                            }
                                            return out;
                                        }
                                    }));
                }
                for (Future<List<String>> f : futures) {
                    assertEquals(expected, f.get());
                }
            } finally {
                pool.shutdown();
            }
        }
    }

    @Test
    void corruptDirectoryIsAClearError() throws Exception {
        Path bad = models.getParent().resolve("bad-models");
        Path dir = bad.resolve("broken");
        HostileFiles.folderWithConfig(dir, ZooBadInputTest.INDIVISIBLE_CONFIG);
        ZooCriteria.withModelsFolder(
                bad,
                () -> {
                    MalformedModelException e =
                            assertThrows(
                                    MalformedModelException.class,
                                    () ->
                                            zoo(String.class, String.class, "broken")
                                                    .build()
                                                    .loadModel());
                    assertTrue(e.getMessage().contains("divisible"), e.getMessage());
                });
    }
}
