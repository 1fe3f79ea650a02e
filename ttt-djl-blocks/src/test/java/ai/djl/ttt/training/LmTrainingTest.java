package ai.djl.ttt.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.MalformedModelException;
import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import ai.djl.training.Trainer;
import ai.djl.training.listener.TrainingListenerAdapter;
import ai.djl.ttt.GradOnThread;
import ai.djl.ttt.config.LayerType;
import ai.djl.ttt.config.TttConfig;
import ai.djl.ttt.io.ParityCheck;
import ai.djl.ttt.lm.CausalLm;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Training with DJL's Trainer lowers the loss; checkpoints save, load and resume exactly. */
class LmTrainingTest {

    private static final PrintStream QUIET = new PrintStream(OutputStream.nullOutputStream());

    static TttConfig config(LayerType type) {
        return TttConfig.builder()
                .setVocabSize(256)
                .setHiddenSize(32)
                .setNumAttentionHeads(2)
                .setIntermediateSize(64)
                .setNumHiddenLayers(2)
                .setLayerType(type)
                .mambaBackbone()
                .build();
    }

    static TrainingSettings settings(int steps) {
        return new TrainingSettings(steps, 8, 32, 3e-3f, 3e-4f, 4, 0.1f, 1.0f, 10, 0, 7);
    }

    static Model newModel(TttConfig config, long seed) {
        Engine.getInstance().setRandomSeed((int) seed);
        Model model = Model.newInstance(ModelDirectory.MODEL_NAME);
        CausalLm lm = new CausalLm(config);
        lm.initialize(model.getNDManager(), DataType.FLOAT32, new Shape(1, 32));
        model.setBlock(lm);
        return model;
    }

    @Test
    void trainingLowersTheValidationLossBelowUnigram() throws Exception {
        ByteTokenizer tokenizer = new ByteTokenizer();
        LmTraining.Data data = LmTraining.split(TestCorpus.text(1500, 1), tokenizer, 0.1);
        double unigram =
                new UnigramBaseline(data.trainTokens(), 256).crossEntropy(data.validationTokens());
        for (LayerType type : LayerType.values()) {
            try (Model model = newModel(config(type), 3)) {
                double before = LmTraining.meanLoss(model, data.validationTokens(), 32, 8, 0);
                TrainingState state =
                        LmTraining.train(model, tokenizer, data, settings(60), null, null, QUIET);
                double after = state.validations.get(state.validations.size() - 1).loss();
                assertEquals(60, state.step);
                assertEquals(6, state.validations.size());
                String summary =
                        type
                                + ": validation loss "
                                + before
                                + " -> "
                                + after
                                + ", unigram "
                                + unigram;
                assertTrue(after < 0.6 * before, summary);
                // 60 steps are enough for the TTT layers to use context; attention needs longer
                assertTrue(!type.isTtt() || after < unigram, summary);
            }
        }
    }

    @Test
    void trainingOnAThreadWhereAutogradIsOnGivesTheSameModel() throws Exception {
        // libtorch's grad mode is on by default on every thread but the engine's: the optimizer's
        // in-place updates and the evaluation must not depend on the thread they run on
        ByteTokenizer tokenizer = new ByteTokenizer();
        LmTraining.Data data = LmTraining.split(TestCorpus.text(600, 4), tokenizer, 0.1);
        TrainingSettings settings = settings(6);
        try (NDManager manager = NDManager.newBaseManager();
                Model here = newModel(config(LayerType.MLP), 6);
                Model there = newModel(config(LayerType.MLP), 6)) {
            TrainingState expected =
                    LmTraining.train(here, tokenizer, data, settings, null, null, QUIET);
            TrainingState state =
                    GradOnThread.call(
                            () ->
                                    LmTraining.train(
                                            there, tokenizer, data, settings, null, null, QUIET));
            assertEquals(6, state.step);
            assertEquals(expected.validations.get(0).loss(), state.validations.get(0).loss(), 1e-6);
            double err = ParityCheck.relativeError(logits(there, manager), logits(here, manager));
            assertTrue(err < 1e-6, "trained on another thread vs here: " + err);
        }
    }

    @Test
    void resumedRunEqualsUninterruptedRun(@TempDir Path dir) throws Exception {
        ByteTokenizer tokenizer = new ByteTokenizer();
        LmTraining.Data data = LmTraining.split(TestCorpus.text(600, 2), tokenizer, 0.1);
        TrainingSettings settings =
                new TrainingSettings(12, 4, 32, 3e-3f, 3e-4f, 2, 0.1f, 1.0f, 6, 6, 9);
        NDArray reference;
        try (NDManager manager = NDManager.newBaseManager();
                Model model = newModel(config(LayerType.LINEAR), 5)) {
            LmTraining.train(model, tokenizer, data, settings, dir.resolve("a"), null, QUIET);
            reference = logits(model, manager);
            reference.detach();
        }

        Path b = dir.resolve("b");
        try (Model model = newModel(config(LayerType.LINEAR), 5)) {
            RuntimeException crash =
                    assertThrows(
                            RuntimeException.class,
                            () ->
                                    LmTraining.train(
                                            model,
                                            tokenizer,
                                            data,
                                            settings,
                                            b,
                                            null,
                                            QUIET,
                                            new CrashAfter(6)));
            assertEquals("simulated crash", crash.getMessage());
        }
        try (ModelDirectory.Loaded loaded = ModelDirectory.load(b, Device.cpu());
                NDManager manager = NDManager.newBaseManager()) {
            assertEquals(6, loaded.training().step);
            TrainingState state =
                    LmTraining.train(
                            loaded.model(), tokenizer, data, settings, b, loaded.training(), QUIET);
            assertEquals(12, state.step);
            double err = ParityCheck.relativeError(logits(loaded.model(), manager), reference);
            assertTrue(err < 1e-6, "resumed vs uninterrupted logits: " + err);
        }
    }

    @Test
    void aDirectoryWithTheOlderOptimizerFileResumesExactly(@TempDir Path dir) throws Exception {
        ByteTokenizer tokenizer = new ByteTokenizer();
        LmTraining.Data data = LmTraining.split(TestCorpus.text(600, 2), tokenizer, 0.1);
        TrainingSettings settings =
                new TrainingSettings(12, 4, 32, 3e-3f, 3e-4f, 2, 0.1f, 1.0f, 6, 6, 9);
        Path a = dir.resolve("a");
        NDArray reference;
        try (NDManager manager = NDManager.newBaseManager();
                Model model = newModel(config(LayerType.LINEAR), 5)) {
            LmTraining.train(model, tokenizer, data, settings, a, null, QUIET);
            reference = logits(model, manager);
            reference.detach();
        }
        Path b = dir.resolve("b");
        try (Model model = newModel(config(LayerType.LINEAR), 5)) {
            assertThrows(
                    IllegalStateException.class,
                    () ->
                            LmTraining.train(
                                    model,
                                    tokenizer,
                                    data,
                                    settings,
                                    b,
                                    null,
                                    QUIET,
                                    new CrashAfter(6)));
        }
        // the layout of older versions: one optimizer.npz, overwritten at every checkpoint
        Path legacy = b.resolve(ModelDirectory.LEGACY_OPTIMIZER_FILE);
        Files.move(ModelDirectory.optimizerFile(b, 6), legacy);
        Path stale = dir.resolve("stale");
        Files.createDirectories(stale);
        try (var files = Files.list(b)) {
            for (Path f : files.toList()) {
                Files.copy(f, stale.resolve(f.getFileName()));
            }
        }

        try (ModelDirectory.Loaded loaded = ModelDirectory.load(b, Device.cpu());
                NDManager manager = NDManager.newBaseManager()) {
            TrainingState state =
                    LmTraining.train(
                            loaded.model(), tokenizer, data, settings, b, loaded.training(), QUIET);
            assertEquals(12, state.step);
            double err = ParityCheck.relativeError(logits(loaded.model(), manager), reference);
            assertTrue(err < 1e-6, "resumed from optimizer.npz vs uninterrupted logits: " + err);
        }
        // the next checkpoint is in the current layout
        assertTrue(Files.isRegularFile(ModelDirectory.optimizerFile(b, 12)));
        assertFalse(Files.exists(legacy));

        // an optimizer.npz of another step than training.json's (a save that did not complete)
        Files.copy(
                ModelDirectory.optimizerFile(a, 12),
                stale.resolve(ModelDirectory.LEGACY_OPTIMIZER_FILE),
                StandardCopyOption.REPLACE_EXISTING);
        try (ModelDirectory.Loaded loaded = ModelDirectory.load(stale, Device.cpu())) {
            IOException mismatch =
                    assertThrows(
                            IOException.class,
                            () ->
                                    LmTraining.train(
                                            loaded.model(),
                                            tokenizer,
                                            data,
                                            settings,
                                            stale,
                                            loaded.training(),
                                            QUIET));
            assertTrue(
                    mismatch.getMessage()
                            .contains(
                                    "holds the optimizer state after step 12 but training.json"
                                            + " names step 6"),
                    mismatch.getMessage());
        }
        // neither file: the message names both
        Files.delete(stale.resolve(ModelDirectory.LEGACY_OPTIMIZER_FILE));
        try (ModelDirectory.Loaded loaded = ModelDirectory.load(stale, Device.cpu())) {
            FileNotFoundException none =
                    assertThrows(
                            FileNotFoundException.class,
                            () ->
                                    LmTraining.train(
                                            loaded.model(),
                                            tokenizer,
                                            data,
                                            settings,
                                            stale,
                                            loaded.training(),
                                            QUIET));
            assertEquals(
                    stale
                            + " has no optimizer state for step 6 to resume from: expected"
                            + " optimizer-0006.npz (or optimizer.npz, written by older versions)",
                    none.getMessage());
        }
    }

    @Test
    void savedFilesGetThePermissionsOfAPlainNewFile(@TempDir Path dir) throws Exception {
        // what the process umask gives any new file (e.g. rw-r--r-- under umask 022)
        Path probe = dir.resolve("probe");
        try (OutputStream os = new java.io.FileOutputStream(probe.toFile())) {
            os.write(1);
        }
        Set<PosixFilePermission> plain = Files.getPosixFilePermissions(probe);
        ByteTokenizer tokenizer = new ByteTokenizer();
        LmTraining.Data data = LmTraining.split(TestCorpus.text(300, 2), tokenizer, 0.1);
        Path model = dir.resolve("model");
        try (Model m = newModel(config(LayerType.LINEAR), 5)) {
            LmTraining.train(
                    m,
                    tokenizer,
                    data,
                    new TrainingSettings(2, 4, 32, 3e-3f, 3e-4f, 1, 0.1f, 1.0f, 2, 0, 9),
                    model,
                    null,
                    QUIET);
        }
        List<String> names =
                List.of(
                        "config.json",
                        "serving.properties",
                        "tokenizer.txt",
                        "training.json",
                        "optimizer-0002.npz",
                        "ttt-lm-0002.params");
        for (String name : names) {
            assertEquals(
                    PosixFilePermissions.toString(plain),
                    PosixFilePermissions.toString(
                            Files.getPosixFilePermissions(model.resolve(name))),
                    name);
        }
    }

    @Test
    void savedModelLoadsWithIdenticalLogits(@TempDir Path dir) throws Exception {
        try (NDManager manager = NDManager.newBaseManager();
                Model model = newModel(config(LayerType.MLP), 4)) {
            NDArray before = logits(model, manager);
            ModelDirectory.save(dir, model, new ByteTokenizer(), null, null);
            try (ModelDirectory.Loaded loaded = ModelDirectory.load(dir, Device.cpu())) {
                assertEquals(
                        0.0, ParityCheck.relativeError(logits(loaded.model(), manager), before));
                assertEquals(config(LayerType.MLP), loaded.lm().getConfig());
            }
            try (var files = Files.list(dir)) {
                assertFalse(files.anyMatch(f -> f.getFileName().toString().endsWith(".tmp")));
            }
        }
    }

    @Test
    void corruptOrMismatchedCheckpointsAreClearErrors(@TempDir Path dir) throws Exception {
        try (Model model = newModel(config(LayerType.LINEAR), 4)) {
            ModelDirectory.save(dir, model, new ByteTokenizer(), null, null);
        }
        Path params = dir.resolve("ttt-lm-0000.params");
        byte[] bytes = Files.readAllBytes(params);

        Files.write(params, java.util.Arrays.copyOf(bytes, bytes.length / 2));
        MalformedModelException truncated =
                assertThrows(
                        MalformedModelException.class,
                        () -> ModelDirectory.load(dir, Device.cpu()));
        assertTrue(truncated.getMessage().contains("corrupt or truncated"), truncated.getMessage());

        Files.write(params, bytes);
        config(LayerType.LINEAR).toBuilder()
                .setTttBaseLr(0.5)
                .build()
                .save(dir.resolve("config.json"));
        MalformedModelException mismatched =
                assertThrows(
                        MalformedModelException.class,
                        () -> ModelDirectory.load(dir, Device.cpu()));
        assertTrue(
                mismatched.getMessage().contains("ttt_base_lr: 1.0 vs 0.5"),
                mismatched.getMessage());

        Files.writeString(dir.resolve("config.json"), "{\"hidden_size\": 33}");
        MalformedModelException bad =
                assertThrows(
                        MalformedModelException.class,
                        () -> ModelDirectory.load(dir, Device.cpu()));
        assertTrue(bad.getMessage().contains("must be divisible"), bad.getMessage());
    }

    @Test
    void weightDecaySkipsNormsBiasesAndTheInnerInitialWeights() {
        TttConfig mlp = config(LayerType.MLP);
        // a three-layer inner MLP too: W3 is an inner initial weight like W1 and W2
        TttConfig deep = mlp.toBuilder().setInnerHiddenMultiples(List.of(2, 3)).build();
        for (TttConfig config : List.of(mlp, deep)) {
            assertDecayMask(config);
        }
    }

    private static void assertDecayMask(TttConfig config) {
        try (Model model = newModel(config, 4)) {
            MaskedAdamW adamW = MaskedAdamW.builder().setBlock(model.getBlock()).build();
            int decayed = 0;
            for (var p : model.getBlock().getParameters()) {
                String name = p.getKey();
                boolean d = adamW.isDecayed(p.getValue());
                if (name.matches(".*_[Wb][0-9]+")
                        || name.contains("norm")
                        || name.endsWith("_bias")
                        || name.endsWith("token_idx")) {
                    assertFalse(d, name + " must not be decayed");
                } else if (name.endsWith("proj_weight") || name.endsWith("embed_tokens")) {
                    assertTrue(d, name + " must be decayed");
                    decayed++;
                }
            }
            assertTrue(decayed > 10);
        }
    }

    private static NDArray logits(Model model, NDManager manager) {
        NDArray ids = manager.arange(0, 64, 1, DataType.INT64).reshape(2, 32);
        return model.getBlock()
                .forward(new ParameterStore(manager, false), new NDList(ids), false)
                .head();
    }

    /** Simulates a crash right after a given step's checkpoint. */
    private static final class CrashAfter extends TrainingListenerAdapter {
        private final int step;
        private int seen;

        CrashAfter(int step) {
            this.step = step;
        }

        @Override
        public void onTrainingBatch(Trainer trainer, BatchData batchData) {
            if (++seen == step) {
                throw new IllegalStateException("simulated crash");
            }
        }
    }
}
