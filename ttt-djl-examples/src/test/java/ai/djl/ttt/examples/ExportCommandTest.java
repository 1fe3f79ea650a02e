package ai.djl.ttt.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.training.ParameterStore;
import ai.djl.ttt.io.OfficialWeights;
import ai.djl.ttt.lm.CausalLm;
import ai.djl.ttt.training.ModelDirectory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code ttt export}: a trained model in the official format, and its refusals. */
class ExportCommandTest {

    private static Path train(Path dir, String name, String layer) throws Exception {
        Path model = dir.resolve(name);
        CliTest.run(
                0,
                CliTest.tinyTrain(CliTest.corpus(dir), model, 1, "--layer", layer)
                        .toArray(String[]::new));
        return model;
    }

    @Test
    void exportsATrainedModelThatLoadsBackWithTheSameLogits(@TempDir Path dir) throws Exception {
        Path model = train(dir, "model", "mlp");
        Path out = dir.resolve("exported");
        String printed =
                CliTest.run(0, "export", "--model-dir", model.toString(), "--out", out.toString());
        assertTrue(printed.contains("model.safetensors"), printed);
        assertTrue(printed.contains("from_pretrained"), printed);
        try (Stream<Path> files = Files.list(out)) {
            assertEquals(
                    List.of("config.json", "model.safetensors", "tokenizer.txt"),
                    files.map(f -> f.getFileName().toString()).sorted().toList());
        }
        try (ModelDirectory.Loaded saved = ModelDirectory.load(model, ai.djl.Device.cpu());
                NDManager manager = NDManager.newBaseManager()) {
            CausalLm exported =
                    OfficialWeights.loadModel(
                            out.resolve("config.json"),
                            out.resolve("model.safetensors"),
                            manager,
                            DataType.FLOAT32);
            NDArray ids = manager.arange(0, 40, 1, DataType.INT64).reshape(2, 20);
            ParameterStore ps = new ParameterStore(manager, false);
            NDArray a = saved.lm().forward(ps, new NDList(ids), false).head();
            NDArray b = exported.forward(ps, new NDList(ids), false).head();
            assertTrue(a.contentEquals(b), "exported logits differ from the saved model's");
        }

        // never over an existing folder, whatever it holds
        String again =
                CliTest.run(2, "export", "--model-dir", model.toString(), "--out", out.toString());
        assertTrue(again.contains("--out " + out + " already exists"), again);
    }

    @Test
    void refusesModelsTheOfficialCodeCannotExpressAndBadOptions(@TempDir Path dir)
            throws Exception {
        Path attention = train(dir, "attention", "attention");
        Path out = dir.resolve("out");
        String refused =
                CliTest.run(
                        2, "export", "--model-dir", attention.toString(), "--out", out.toString());
        assertTrue(
                refused.contains("ttt_layer_type 'attention' (attention) has no official"),
                refused);
        assertTrue(refused.contains("--model-dir " + attention), refused);

        // a deeper inner MLP: refused from its config, before any weight is read
        Path deep = dir.resolve("deep");
        Files.createDirectories(deep);
        Files.writeString(
                deep.resolve("config.json"),
                "{\"ttt_layer_type\": \"mlp\", \"ttt_inner_hidden_multiples\": [4, 4]}");
        String deeper =
                CliTest.run(2, "export", "--model-dir", deep.toString(), "--out", out.toString());
        assertTrue(deeper.contains("ttt_inner_hidden_multiples [4, 4] has no official"), deeper);

        String format =
                CliTest.run(
                        2,
                        "export",
                        "--model-dir",
                        attention.toString(),
                        "--out",
                        out.toString(),
                        "--format",
                        "onnx");
        assertTrue(format.contains("--format onnx: expected pytorch or jax"), format);
        assertFalse(Files.exists(out));
    }
}
