package ai.djl.ttt.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.ParameterStore;
import ai.djl.ttt.config.LayerType;
import ai.djl.ttt.io.ParityCheck;
import ai.djl.ttt.lm.CausalLm;
import ai.djl.ttt.lm.TestModels;
import ai.djl.ttt.nn.InnerLossRecorder;
import ai.djl.ttt.nn.inner.InnerLossStats;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * Inner-loss statistics come back from a forward that asks for them ({@link InnerLossRecorder}),
 * through a whole model and through the training listener, without changing any output.
 */
class InnerLossListenerTest {

    @Test
    void aModelForwardReturnsOneResultPerTttLayerAndTheSameLogits() {
        try (NDManager manager = NDManager.newBaseManager()) {
            CausalLm model = TestModels.model(TestModels.tiny(LayerType.MLP), manager, 3);
            NDArray ids = TestModels.ids(manager, 2, 40, 64, 5);
            ParameterStore ps = new ParameterStore(manager, false);
            NDArray plain = model.forward(ps, new NDList(ids), false).head();
            InnerLossRecorder recorder = new InnerLossRecorder();
            NDArray measured =
                    model.forward(ps, new NDList(ids), false, recorder.asParams()).head();
            assertEquals(0, ParityCheck.relativeError(measured, plain));
            List<InnerLossStats> stats = recorder.stats();
            assertEquals(2, stats.size(), "one per block");
            for (InnerLossStats s : stats) {
                assertEquals(2, s.size(), "40 tokens: 2 full mini-batches of 16");
            }
            // a stateful pass does not measure
            InnerLossRecorder unused = new InnerLossRecorder();
            NDList withState = new NDList(ids);
            withState.addAll(
                    model.prefill(ps, ids.get(":, 0:1"), null, false).state().toNDList(manager));
            model.forward(ps, withState, false, unused.asParams());
            assertTrue(unused.stats().isEmpty());
        }
    }

    @Test
    void theListenerLogsTheMeasuredStepsOfATrainingRun() throws Exception {
        ByteTokenizer tokenizer = new ByteTokenizer();
        LmTraining.Data data = LmTraining.split(TestCorpus.text(400, 1), tokenizer, 0.1);
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (Model model = LmTrainingTest.newModel(LmTrainingTest.config(LayerType.LINEAR), 3);
                PrintStream log = new PrintStream(bytes, true, StandardCharsets.UTF_8)) {
            // validate (and measure the inner loss) every 10 steps; windows of 32 tokens: 2
            // mini-batches
            LmTraining.train(model, tokenizer, data, LmTrainingTest.settings(20), null, null, log);
        }
        String text = bytes.toString(StandardCharsets.UTF_8);
        Pattern line =
                Pattern.compile(
                        "step (\\d+)  inner loss \\(mean of 2 TTT layers, 2 mini-batches\\): W0"
                                + " ([0-9.]+)  before update ([0-9.]+)  after ([0-9.]+)");
        Matcher m = line.matcher(text);
        int lines = 0;
        while (m.find()) {
            lines++;
            assertEquals(10 * lines, Integer.parseInt(m.group(1)), text);
            double before = Double.parseDouble(m.group(3));
            double after = Double.parseDouble(m.group(4));
            // each mini-batch's own gradient step lowers its loss
            assertTrue(after < before, String.format(Locale.ROOT, "%s", m.group()));
        }
        assertEquals(2, lines, text);
    }
}
