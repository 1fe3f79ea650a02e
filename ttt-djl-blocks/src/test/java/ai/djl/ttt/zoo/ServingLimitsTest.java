package ai.djl.ttt.zoo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.inference.Predictor;
import ai.djl.modality.Input;
import ai.djl.modality.Output;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.translate.TranslateException;
import ai.djl.ttt.lm.TestModels;
import ai.djl.ttt.runtime.DeadlineExceededException;
import com.google.gson.JsonParser;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The operator's ceilings ({@link ServingLimits}): requests over them refused with the limit's
 * name, requests lowering them honoured; a deadline or a {@code Future.cancel(true)} stops a
 * running prediction within one decode step and frees its arrays.
 */
class ServingLimitsTest {

    @TempDir static Path dir;

    private static Path model;

    @BeforeAll
    static void save() throws Exception {
        model = TestModels.saved(dir.resolve("tiny-linear"));
    }

    private static <I, O> Criteria.Builder<I, O> criteria(Class<I> in, Class<O> out) {
        return ZooCriteria.byPath(model, in, out);
    }

    private static <T extends Throwable> T cause(Throwable e, Class<T> type) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (type.isInstance(t)) {
                return type.cast(t);
            }
        }
        throw new AssertionError("no " + type.getSimpleName() + " in " + e, e);
    }

    @Test
    void requestsOverACeilingAreRefusedNamingIt() throws Exception {
        try (ZooModel<Input, Output> serving =
                        criteria(Input.class, Output.class)
                                .optArgument(ServingLimits.MAX_PROMPT_TOKENS, 8)
                                .optArgument(ServingLimits.MAX_NEW_TOKENS_LIMIT, 5)
                                .optArgument(ServingLimits.MAX_BATCH_SIZE, 2)
                                .optArgument(ServingLimits.TIMEOUT_MS, "60000")
                                .optArgument("maxNewTokens", 3)
                                .build()
                                .loadModel();
                Predictor<Input, Output> predictor = serving.newPredictor()) {
            String[][] refused = {
                {"{\"inputs\": \"123456789\"}", "maxPromptTokens", "the input has 9 tokens"},
                {
                    "{\"inputs\": \"123456789\", \"parameters\": {\"task\": \"score\"}}",
                    "maxPromptTokens",
                    "more than the limit of 8 (maxPromptTokens)"
                },
                {
                    "{\"inputs\": \"a\", \"parameters\": {\"max_new_tokens\": 6}}",
                    "maxNewTokensLimit",
                    "max_new_tokens 6 is over the limit of 5 (maxNewTokensLimit)"
                },
                {
                    "{\"inputs\": \"a\", \"parameters\": {\"timeout_ms\": 60001}}",
                    "timeoutMs",
                    "timeout_ms 60001 is over the limit of 60000 (timeoutMs)"
                }
            };
            for (String[] c : refused) {
                TranslateException e =
                        assertThrows(
                                TranslateException.class,
                                () -> predictor.predict(ZooCriteria.json(c[0])));
                RequestLimitException limit = cause(e, RequestLimitException.class);
                assertEquals(c[1], limit.getLimit(), c[0]);
                assertTrue(limit.getMessage().contains(c[2]), limit.getMessage());
            }
            // within the ceilings: the default (3), a request's lower or equal value
            assertEquals(3, generated(predictor, "{\"inputs\": \"12345678\"}").length());
            assertEquals(
                    5,
                    generated(
                                    predictor,
                                    "{\"inputs\": \"a\", \"parameters\": {\"max_new_tokens\": 5,"
                                            + " \"timeout_ms\": 30000}}")
                            .length());
            // a batch over the ceiling: refused (DJL's own predictor: at the third input)
            List<Input> three =
                    List.of(
                            ZooCriteria.json("{\"inputs\": \"a\"}"),
                            ZooCriteria.json("{\"inputs\": \"b\"}"),
                            ZooCriteria.json("{\"inputs\": \"c\"}"));
            TranslateException batch =
                    assertThrows(TranslateException.class, () -> predictor.batchPredict(three));
            RequestLimitException overBatch = cause(batch, RequestLimitException.class);
            assertEquals(ServingLimits.MAX_BATCH_SIZE, overBatch.getLimit());
            assertEquals(
                    "a batch of 3 inputs is over the limit of 2 (maxBatchSize)",
                    overBatch.getMessage());
            assertEquals(2, predictor.batchPredict(three.subList(0, 2)).size());
        }
    }

    @Test
    void theDefaultsRefuseTheIssuesOversizedRequests() throws Exception {
        // issue 30's reproductions: a 256 KB prompt (failed after 21 s and ~7 GB), one of 128 KB
        // to score, and max_new_tokens 1e9 (days): refused at once by the default ceilings
        try (ZooModel<Input, Output> serving =
                        criteria(Input.class, Output.class).build().loadModel();
                Predictor<Input, Output> predictor = serving.newPredictor()) {
            int arrays = serving.getNDManager().getManagedArrays().size();
            String[][] refused = {
                {
                    "{\"inputs\": \"" + "a".repeat(256 * 1024) + "\"}",
                    "the input has 262144 tokens, more than the limit of 4096 (maxPromptTokens)"
                },
                {
                    "{\"inputs\": \""
                            + "a".repeat(128 * 1024)
                            + "\", \"parameters\": {\"task\": \"score\"}}",
                    "the input has 131072 tokens, more than the limit of 4096 (maxPromptTokens)"
                },
                {
                    "{\"inputs\": \"a\", \"parameters\": {\"max_new_tokens\": 1000000000}}",
                    "max_new_tokens 1000000000 is over the limit of 1024 (maxNewTokensLimit)"
                }
            };
            for (String[] c : refused) {
                TranslateException e =
                        assertThrows(
                                TranslateException.class,
                                () -> predictor.predict(ZooCriteria.json(c[0])));
                String message = cause(e, RequestLimitException.class).getMessage();
                assertTrue(message.startsWith(c[1]), message);
            }
            assertEquals(arrays, serving.getNDManager().getManagedArrays().size());
        }
    }

    @Test
    void theOperatorsCeilingsComeFromServingProperties() throws Exception {
        Path copy = TestModels.saved(dir.resolve("with-ceilings"));
        Path properties = copy.resolve("serving.properties");
        Files.writeString(
                properties,
                Files.readString(properties)
                        + "maxPromptTokens=4\nmaxNewTokensLimit=5\nmaxNewTokens=2\n");
        // DJL's own loader, as DJL Serving uses it
        try (ZooModel<Input, Output> serving =
                        ZooCriteria.byPath(copy, Input.class, Output.class).build().loadModel();
                Predictor<Input, Output> predictor = serving.newPredictor()) {
            TranslateException prompt =
                    assertThrows(
                            TranslateException.class,
                            () -> predictor.predict(ZooCriteria.json("{\"inputs\": \"12345\"}")));
            assertEquals(
                    ServingLimits.MAX_PROMPT_TOKENS,
                    cause(prompt, RequestLimitException.class).getLimit());
            TranslateException raise =
                    assertThrows(
                            TranslateException.class,
                            () ->
                                    predictor.predict(
                                            ZooCriteria.json(
                                                    "{\"inputs\": \"1234\", \"parameters\":"
                                                            + " {\"max_new_tokens\": 6}}")));
            assertEquals(
                    ServingLimits.MAX_NEW_TOKENS_LIMIT,
                    cause(raise, RequestLimitException.class).getLimit());
            assertEquals(2, generated(predictor, "{\"inputs\": \"1234\"}").length());
            assertEquals(
                    5,
                    generated(
                                    predictor,
                                    "{\"inputs\": \"1234\", \"parameters\": {\"max_new_tokens\": 5}}")
                            .length());
        }
    }

    @Test
    void theZooPredictorRefusesABatchBeforeItsFirstInput() throws Exception {
        AtomicInteger prompts = new AtomicInteger();
        ZooCriteria.withModelsFolder(
                dir,
                () -> {
                    try (ZooModel<GenerationRequest, String> zoo =
                                    ZooCriteria.artifact(
                                                    "tiny-linear",
                                                    GenerationRequest.class,
                                                    String.class)
                                            .optArgument(ServingLimits.MAX_BATCH_SIZE, 1)
                                            .build()
                                            .loadModel();
                            Predictor<GenerationRequest, String> predictor = zoo.newPredictor()) {
                        GenerationRequest counted =
                                new GenerationRequest("a", piece -> prompts.incrementAndGet());
                        TranslateException e =
                                assertThrows(
                                        TranslateException.class,
                                        () -> predictor.batchPredict(List.of(counted, counted)));
                        assertEquals(
                                ServingLimits.MAX_BATCH_SIZE,
                                cause(e, RequestLimitException.class).getLimit());
                        assertEquals(0, prompts.get(), "nothing generated for a refused batch");
                    }
                });
    }

    @Test
    void defaultsOverTheCeilingOrBadLimitsFailAtLoad() {
        IllegalArgumentException overCeiling =
                cause(
                        assertThrows(
                                Exception.class,
                                () ->
                                        criteria(Input.class, Output.class)
                                                .optArgument(ServingLimits.MAX_NEW_TOKENS_LIMIT, 5)
                                                .optArgument("maxNewTokens", 10)
                                                .build()
                                                .loadModel()
                                                .close()),
                        IllegalArgumentException.class);
        assertTrue(
                overCeiling.getMessage().contains("max_new_tokens 10 is over the limit of 5"),
                overCeiling.getMessage());
        IllegalArgumentException bad =
                cause(
                        assertThrows(
                                Exception.class,
                                () ->
                                        criteria(String.class, String.class)
                                                .optArgument(ServingLimits.TIMEOUT_MS, "soon")
                                                .build()
                                                .loadModel()
                                                .close()),
                        IllegalArgumentException.class);
        assertEquals("timeoutMs: expected an integer >= 1, got \"soon\"", bad.getMessage());
    }

    private static String generated(Predictor<Input, Output> predictor, String body)
            throws TranslateException {
        Output output = predictor.predict(ZooCriteria.json(body));
        assertEquals(200, output.getCode());
        return JsonParser.parseString(output.getData().getAsString())
                .getAsJsonObject()
                .get("generated_text")
                .getAsString();
    }

    @Test
    void aPredictionPastItsDeadlineStopsWithinOneStep() throws Exception {
        try (ZooModel<GenerationRequest, String> zoo =
                        criteria(GenerationRequest.class, String.class)
                                .optArgument(ServingLimits.TIMEOUT_MS, 50)
                                .optArgument("maxNewTokens", 1000)
                                .build()
                                .loadModel();
                Predictor<GenerationRequest, String> predictor = zoo.newPredictor()) {
            int arrays = zoo.getNDManager().getManagedArrays().size();
            AtomicInteger pieces = new AtomicInteger();
            GenerationRequest slow =
                    new GenerationRequest(
                            "the state ",
                            piece -> {
                                if (pieces.incrementAndGet() == 1) {
                                    sleep(100); // the deadline passes during the first token
                                }
                            });
            TranslateException e =
                    assertThrows(TranslateException.class, () -> predictor.predict(slow));
            DeadlineExceededException deadline = cause(e, DeadlineExceededException.class);
            assertTrue(deadline.getMessage().contains("deadline of 50 ms"), deadline.getMessage());
            assertTrue(pieces.get() <= 2, "stopped at the next step, not after " + pieces.get());
            assertEquals(arrays, zoo.getNDManager().getManagedArrays().size(), "arrays freed");
        }
    }

    @Test
    void cancellingARunningPredictionStopsItAndFreesItsArrays() throws Exception {
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try (ZooModel<GenerationRequest, String> zoo =
                        criteria(GenerationRequest.class, String.class)
                                .optArgument("maxNewTokens", 1000)
                                .build()
                                .loadModel();
                Predictor<GenerationRequest, String> predictor = zoo.newPredictor()) {
            int arrays = zoo.getNDManager().getManagedArrays().size();
            CountDownLatch started = new CountDownLatch(1);
            CountDownLatch cancelled = new CountDownLatch(1);
            CountDownLatch finished = new CountDownLatch(1);
            AtomicInteger afterCancel = new AtomicInteger();
            AtomicReference<Throwable> failure = new AtomicReference<>();
            GenerationRequest request =
                    new GenerationRequest(
                            "the state ",
                            piece -> {
                                if (cancelled.getCount() == 0) {
                                    afterCancel.incrementAndGet();
                                }
                                started.countDown();
                                awaitUninterruptibly(cancelled);
                            });
            Future<?> future =
                    pool.submit(
                            () -> {
                                try {
                                    predictor.predict(request);
                                } catch (Throwable t) {
                                    failure.set(t);
                                } finally {
                                    finished.countDown();
                                }
                            });
            assertTrue(started.await(60, TimeUnit.SECONDS), "generation started");
            future.cancel(true); // interrupts the worker, as a server's timeout does
            cancelled.countDown();
            assertTrue(finished.await(60, TimeUnit.SECONDS), "the prediction stopped");
            assertInstanceOf(
                    CancellationException.class, cause(failure.get(), CancellationException.class));
            assertEquals(0, afterCancel.get(), "no token after the cancel");
            assertEquals(arrays, zoo.getNDManager().getManagedArrays().size(), "arrays freed");
        } finally {
            pool.shutdownNow();
        }
    }

    /** Waits for the latch, keeping the thread's interrupt for the generator to see. */
    private static void awaitUninterruptibly(CountDownLatch latch) {
        boolean interrupted = false;
        while (true) {
            try {
                latch.await();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
