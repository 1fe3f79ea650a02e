package ai.djl.ttt.lm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.ParameterStore;
import ai.djl.ttt.GradOnThread;
import ai.djl.ttt.config.LayerType;
import ai.djl.ttt.io.ParityCheck;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Decoding with the recurrent state gives the full forward's numbers; batching changes nothing. */
class GenerationTest {

    @Test
    void decodeLogitsEqualFullForwardLogits() {
        for (LayerType type : LayerType.values()) {
            try (NDManager manager = NDManager.newBaseManager()) {
                CausalLm model = TestModels.model(TestModels.tiny(type), manager, 3);
                ParameterStore ps = new ParameterStore(manager, false);
                NDArray ids = TestModels.ids(manager, 2, 40, 64, 5);
                NDArray full = model.forward(ps, new NDList(ids), false).head();
                for (int prompt : new int[] {1, 16, 21}) {
                    CausalLm.Output out =
                            model.prefill(ps, ids.get(":, 0:{}", prompt), null, false);
                    NDList pieces = new NDList(out.logits());
                    for (int t = prompt; t < 40; t++) {
                        out = model.prefill(ps, ids.get(":, {}:{}", t, t + 1), out.state(), false);
                        pieces.add(out.logits());
                    }
                    double err = ParityCheck.relativeError(NDArrays.concat(pieces, 1), full);
                    assertTrue(err <= 1e-5, type + " prompt " + prompt + ": " + err);
                }
            }
        }
    }

    @Test
    void prefillLastGivesTheLastLogitsAndTheSameState() {
        for (LayerType type : LayerType.values()) {
            try (NDManager manager = NDManager.newBaseManager()) {
                CausalLm model = TestModels.model(TestModels.tiny(type), manager, 3);
                ParameterStore ps = new ParameterStore(manager, false);
                NDArray ids = TestModels.ids(manager, 2, 21, 64, 8);
                NDArray next = TestModels.ids(manager, 2, 1, 64, 9);
                CausalLm.Output all = model.prefill(ps, ids, null, false);
                CausalLm.Output last = model.prefillLast(ps, ids, null);
                assertEquals(new Shape(2, 1, 64), last.logits().getShape());
                double err = ParityCheck.relativeError(last.logits(), all.logits().get(":, -1:"));
                assertTrue(err <= 1e-6, type + ": " + err);
                // the state is the same: the next step's logits agree
                NDArray a = model.prefill(ps, next, all.state(), false).logits();
                NDArray b = model.prefill(ps, next, last.state(), false).logits();
                assertEquals(0.0, ParityCheck.relativeError(a, b), type.toString());
                // a single token is its own last position
                assertEquals(
                        new Shape(2, 1, 64), model.prefillLast(ps, next, null).logits().getShape());
            }
        }
    }

    @Test
    void promptsOfDifferentLengthsGenerateAsIfAlone() {
        SamplingConfig sampling =
                SamplingConfig.builder()
                        .optMaxNewTokens(20)
                        .optTemperature(0.9)
                        .optTopK(20)
                        .optTopP(0.95)
                        .optSeed(11)
                        .build();
        for (LayerType type : LayerType.values()) {
            try (NDManager manager = NDManager.newBaseManager()) {
                CausalLm model = TestModels.model(TestModels.tiny(type), manager, 4);
                Generator generator = new Generator(model, manager);
                List<long[]> prompts = new ArrayList<>();
                for (int length : new int[] {3, 17, 25}) {
                    prompts.add(TestModels.ids(manager, 1, length, 64, length).toLongArray());
                }
                List<long[]> together = generator.generate(prompts, sampling, null);
                for (int i = 0; i < prompts.size(); i++) {
                    long[] alone =
                            generator.generate(List.of(prompts.get(i)), sampling, null).get(0);
                    assertArrayEquals(alone, together.get(i), type + " prompt " + i);
                    assertEquals(20, alone.length);
                }
            }
        }
    }

    @Test
    void greedyTokensAreTheArgmaxOfTheFullForward() {
        for (LayerType type : LayerType.values()) {
            try (NDManager manager = NDManager.newBaseManager()) {
                CausalLm model = TestModels.model(TestModels.tiny(type), manager, 6);
                long[] prompt = TestModels.ids(manager, 1, 9, 64, 1).toLongArray();
                List<Long> streamed = new ArrayList<>();
                long[] generated =
                        new Generator(model, manager)
                                .generate(
                                        List.of(prompt),
                                        SamplingConfig.builder().optMaxNewTokens(12).build(),
                                        (row, token) -> streamed.add(token))
                                .get(0);
                assertArrayEquals(
                        streamed.stream().mapToLong(Long::longValue).toArray(), generated);
                long[] all = new long[prompt.length + generated.length];
                System.arraycopy(prompt, 0, all, 0, prompt.length);
                System.arraycopy(generated, 0, all, prompt.length, generated.length);
                NDArray logits =
                        model.forward(
                                        new ParameterStore(manager, false),
                                        new NDList(manager.create(all).reshape(1, all.length)),
                                        false)
                                .head();
                long[] argmax = logits.argMax(2).toLongArray();
                for (int i = 0; i < generated.length; i++) {
                    assertEquals(argmax[prompt.length - 1 + i], generated[i], type + " token " + i);
                }
            }
        }
    }

    /**
     * Decoding through DJL's {@code NDList} protocol ({@code [ids, state...] → [logits, state...]})
     * leaves nothing behind but what it returns, also while TTT layers keep decoded tokens'
     * gradient terms as factors that the list does not carry.
     */
    @Test
    void ndListDecodeKeepsOnlyWhatItReturns() {
        for (LayerType type : LayerType.values()) {
            try (NDManager model = NDManager.newBaseManager();
                    NDManager data = NDManager.newBaseManager()) {
                CausalLm lm = TestModels.model(TestModels.tiny(type), model, 3);
                NDArray ids = TestModels.ids(data, 2, 40, 64, 4);
                ParameterStore ps = new ParameterStore(data, false);
                int before = data.getManagedArrays().size();
                NDArray prompt = ids.get(":, 0:21");
                NDArray start = data.zeros(new Shape(2), DataType.INT64);
                NDList out = lm.forward(ps, new NDList(prompt, start), false);
                prompt.close();
                start.close();
                out.head().close();
                NDList state = out.subNDList(1);
                for (int t = 21; t < 40; t++) {
                    NDList in = new NDList(ids.get(":, {}:{}", t, t + 1));
                    in.addAll(state);
                    NDList next = lm.forward(ps, in, false);
                    in.head().close();
                    state.close();
                    next.head().close();
                    state = next.subNDList(1);
                }
                state.close();
                assertEquals(before, data.getManagedArrays().size(), type + ": arrays left");
            }
        }
    }

    @Test
    void generationOnAThreadWithAutogradOnDecodesWithoutItAndRestoresTheMode() throws Exception {
        // what a test can observe: the listener runs inside the decode loop; the prefill runs
        // under the same NoGrad handle as the loop (Generator.generate), but nothing of it is
        // visible from outside once generate returns
        try (NDManager manager = NDManager.newBaseManager()) {
            CausalLm model = TestModels.model(TestModels.tiny(LayerType.MLP), manager, 6);
            Generator generator = new Generator(model, manager);
            List<long[]> prompts = List.of(new long[] {1, 2, 3}, new long[] {4, 5});
            SamplingConfig greedy = SamplingConfig.builder().optMaxNewTokens(6).build();
            List<long[]> here = generator.generate(prompts, greedy, null);
            List<Boolean> duringDecode = new ArrayList<>();
            boolean[] after = new boolean[1];
            Generator.TokenListener probe = (row, token) -> duringDecode.add(JniUtils.isGradMode());
            List<long[]> there =
                    GradOnThread.call(
                            () -> {
                                List<long[]> out = generator.generate(prompts, greedy, probe);
                                after[0] = JniUtils.isGradMode();
                                return out;
                            });
            for (int i = 0; i < prompts.size(); i++) {
                assertArrayEquals(here.get(i), there.get(i), "prompt " + i);
            }
            assertEquals(12, duringDecode.size());
            assertEquals(List.of(false), duringDecode.stream().distinct().toList());
            assertTrue(after[0], "the thread's grad mode is restored");
        }
    }

    @Test
    void stopTokensEndASequence() {
        try (NDManager manager = NDManager.newBaseManager()) {
            CausalLm model = TestModels.model(TestModels.tiny(LayerType.LINEAR), manager, 6);
            Generator generator = new Generator(model, manager);
            long[] prompt = {1, 2, 3};
            SamplingConfig greedy = SamplingConfig.builder().optMaxNewTokens(8).build();
            long[] free = generator.generate(List.of(prompt), greedy, null).get(0);
            SamplingConfig stopping =
                    SamplingConfig.builder().optMaxNewTokens(8).optStopTokens(free[2]).build();
            long[] stopped = generator.generate(List.of(prompt), stopping, null).get(0);
            int firstStop = 0;
            while (free[firstStop] != free[2]) {
                firstStop++;
            }
            assertEquals(firstStop + 1, stopped.length);
            assertEquals(free[2], stopped[stopped.length - 1]);
        }
    }

    @Test
    void aTimeoutOrAnInterruptStopsGenerationAndFreesItsArrays() {
        try (NDManager manager = NDManager.newBaseManager()) {
            CausalLm model = TestModels.model(TestModels.tiny(LayerType.LINEAR), manager, 6);
            Generator generator = new Generator(model, manager);
            int arrays = manager.getManagedArrays().size();
            List<long[]> prompts = List.of(new long[] {1, 2, 3}, new long[] {4, 5});
            int[] tokens = new int[1];
            SamplingConfig late =
                    SamplingConfig.builder()
                            .optMaxNewTokens(1000)
                            .optTimeout(java.time.Duration.ofNanos(1))
                            .build();
            ai.djl.ttt.runtime.DeadlineExceededException deadline =
                    assertThrows(
                            ai.djl.ttt.runtime.DeadlineExceededException.class,
                            () -> generator.generate(prompts, late, (r, t) -> tokens[0]++));
            // the deadline passed during the prefill: stopped before the first prompt
            assertEquals(0, tokens[0], deadline.getMessage());
            assertTrue(
                    deadline.getMessage().startsWith("stopped after prefilling 0 of 2 prompts"),
                    deadline.getMessage());
            assertEquals(arrays, manager.getManagedArrays().size(), "arrays freed");

            // interrupted while a token is handed out: no further step
            SamplingConfig long1000 = SamplingConfig.builder().optMaxNewTokens(1000).build();
            tokens[0] = 0;
            try {
                assertThrows(
                        java.util.concurrent.CancellationException.class,
                        () ->
                                generator.generate(
                                        prompts,
                                        long1000,
                                        (r, t) -> {
                                            tokens[0]++;
                                            Thread.currentThread().interrupt();
                                        }));
                assertTrue(Thread.currentThread().isInterrupted(), "the interrupt is kept");
            } finally {
                Thread.interrupted();
            }
            assertEquals(2, tokens[0], "one token per row, then the cancel");
            assertEquals(arrays, manager.getManagedArrays().size(), "arrays freed");
        }
    }

    @Test
    void badRequestsAreClearErrors() {
        try (NDManager manager = NDManager.newBaseManager()) {
            CausalLm model = TestModels.model(TestModels.tiny(LayerType.LINEAR), manager, 6);
            Generator generator = new Generator(model, manager);
            SamplingConfig greedy = SamplingConfig.builder().build();
            IllegalArgumentException e =
                    assertThrows(
                            IllegalArgumentException.class,
                            () -> generator.generate(List.of(new long[0]), greedy, null));
            assertTrue(e.getMessage().contains("prompt 0 is empty"), e.getMessage());
            e =
                    assertThrows(
                            IllegalArgumentException.class,
                            () -> generator.generate(List.of(new long[] {3, 64}), greedy, null));
            assertTrue(
                    e.getMessage()
                            .contains(
                                    "token ids must be in [0, vocab_size=64), got values in [3, 64]"),
                    e.getMessage());
            e =
                    assertThrows(
                            IllegalArgumentException.class,
                            () -> SamplingConfig.builder().optTopP(0).build());
            assertTrue(e.getMessage().contains("topP must be in (0, 1], got 0.0"), e.getMessage());
        }
    }
}
