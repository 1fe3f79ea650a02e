package ai.djl.ttt.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.ttt.config.LayerType;
import ai.djl.ttt.config.TttConfig;
import ai.djl.ttt.lm.CausalLm;
import ai.djl.ttt.lm.TestModels;
import ai.djl.ttt.nn.TestLayers;
import ai.djl.ttt.nn.TttLayer;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Exporting in the official format ({@link OfficialWeights#save}, {@link Safetensors}): the files
 * read back into the same model, follow the safetensors specification (checked with a reader
 * written here from the specification alone), match a file the official tooling wrote, and models
 * the official code cannot express are refused.
 */
class OfficialExportTest {

    private static final Path DECODE = OfficialParityTest.fixture("decode_linear");

    /** The keyword arguments of the official {@code TTTConfig.__init__} (ttt.py). */
    private static final Set<String> OFFICIAL_KEYS =
            Set.of(
                    "vocab_size",
                    "hidden_size",
                    "intermediate_size",
                    "num_hidden_layers",
                    "num_attention_heads",
                    "hidden_act",
                    "max_position_embeddings",
                    "initializer_range",
                    "rms_norm_eps",
                    "use_cache",
                    "pad_token_id",
                    "bos_token_id",
                    "eos_token_id",
                    "pretraining_tp",
                    "tie_word_embeddings",
                    "rope_theta",
                    "use_gate",
                    "share_qk",
                    "ttt_layer_type",
                    "ttt_base_lr",
                    "mini_batch_size",
                    "pre_conv",
                    "conv_kernel",
                    "scan_checkpoint_group_size");

    /** HuggingFace's keys that {@code save_pretrained} adds (PretrainedConfig reads them). */
    private static final Set<String> HF_KEYS = Set.of("architectures", "model_type", "torch_dtype");

    @Test
    void exportedModelsLoadBackWithBitIdenticalLogits(@TempDir Path tmp) throws Exception {
        // one of the four with an untied head, so that lm_head.weight is a parameter
        List<TttConfig> configs = fourTinyConfigs(3);
        for (int n = 0; n < configs.size(); n++) {
            TttConfig config = configs.get(n);
            try (NDManager manager = NDManager.newBaseManager()) {
                CausalLm model = TestModels.model(config, manager, 11 + n);
                NDArray ids = TestModels.ids(manager, 2, 37, config.getVocabSize(), 5);
                NDArray expected = logits(model, ids, manager);

                Path dir = tmp.resolve("export-" + n);
                OfficialWeights.save(model, dir);
                CausalLm loaded =
                        OfficialWeights.loadModel(
                                dir.resolve("config.json"),
                                dir.resolve("model.safetensors"),
                                manager,
                                DataType.FLOAT32);
                assertEquals(config, loaded.getConfig());
                NDArray actual = logits(loaded, ids, manager);
                assertTrue(
                        expected.contentEquals(actual),
                        describe(config)
                                + ": logits differ, rel. error "
                                + ParityCheck.relativeError(actual, expected));
            }
        }
    }

    /**
     * TTT-Linear and TTT-MLP, each on the Transformer then the Mamba backbone; the one at {@code
     * untied} with an untied head.
     */
    private static List<TttConfig> fourTinyConfigs(int untied) {
        List<TttConfig> configs = new ArrayList<>();
        for (LayerType type : List.of(LayerType.LINEAR, LayerType.MLP)) {
            for (boolean mamba : List.of(false, true)) {
                TttConfig.Builder b = TestModels.tiny(type).toBuilder();
                if (!mamba) {
                    b.transformerBackbone();
                }
                TttConfig config = b.setTieWordEmbeddings(configs.size() != untied).build();
                assertEquals(mamba, config.isPreConv());
                configs.add(config);
            }
        }
        return configs;
    }

    /** The layer type and backbone of one of {@link #fourTinyConfigs}, for messages. */
    private static String describe(TttConfig config) {
        return config.getLayerType() + (config.isPreConv() ? " mamba" : " transformer");
    }

    @Test
    void exportedFileParsesWithAReaderWrittenFromTheSpecification(@TempDir Path tmp)
            throws Exception {
        TttConfig config = TestModels.tiny(LayerType.MLP);
        try (NDManager manager = NDManager.newBaseManager()) {
            CausalLm model = TestModels.model(config, manager, 3);
            Path dir = tmp.resolve("mlp");
            OfficialWeights.save(model, dir);
            SpecReader file = SpecReader.read(dir.resolve("model.safetensors"));

            Map<String, Parameter> params = OfficialWeights.parameterNames(model);
            List<String> expectedNames = new ArrayList<>(params.keySet());
            expectedNames.add("lm_head.weight"); // tied: stored under both names, as ttt.py does
            assertEquals(expectedNames, file.names());
            assertEquals(Map.of("format", "pt"), file.metadata());
            for (String name : expectedNames) {
                NDArray param =
                        name.equals("lm_head.weight")
                                ? model.getEmbedding().getArray()
                                : params.get(name).getArray();
                assertEquals("F32", file.dtype(name), name);
                assertArrayEquals(param.getShape().getShape(), file.shape(name), name);
                assertArrayEquals(param.toFloatArray(), file.floats(name), name);
            }
        }
    }

    @Test
    void writerReproducesAFileTheOfficialToolingWrote() throws Exception {
        Path reference = DECODE.resolve("tensors.safetensors");
        SpecReader official = SpecReader.read(reference);
        ByteArrayOutputStream ours = new ByteArrayOutputStream();
        try (NDManager manager = NDManager.newBaseManager();
                StateDict dict = StateDict.load(manager, reference)) {
            Map<String, NDArray> tensors = new LinkedHashMap<>();
            for (String name : official.names()) {
                tensors.put(name, dict.get(name));
            }
            Safetensors.write(ours, tensors, official.metadata());
        }
        SpecReader written = SpecReader.parse(ours.toByteArray());
        // float32, float64 and int64 tensors, every one at the same offsets with the same bytes
        assertEquals(Set.of("F32", "F64", "I64"), official.dtypes());
        assertEquals(official.names(), written.names());
        assertEquals(official.header(), written.header());
        assertArrayEquals(official.data(), written.data());
    }

    @Test
    void savesAFileAtomicallyWithTheSameBytesAsTheStream(@TempDir Path tmp) throws Exception {
        try (NDManager manager = NDManager.newBaseManager()) {
            Map<String, NDArray> tensors = new LinkedHashMap<>();
            tensors.put("b", manager.arange(6f).reshape(2, 3));
            tensors.put("a", manager.create(new long[] {7, -1}));
            tensors.put("c", manager.create(new double[] {0.5}));
            Path file = tmp.resolve("t.safetensors");
            Safetensors.save(file, tensors, Map.of());
            ByteArrayOutputStream stream = new ByteArrayOutputStream();
            Safetensors.write(stream, tensors, Map.of());
            assertArrayEquals(stream.toByteArray(), Files.readAllBytes(file));
            SpecReader r = SpecReader.read(file);
            assertEquals(List.of("b", "a", "c"), r.names());
            assertEquals(Map.of(), r.metadata());
            assertArrayEquals(new float[] {0, 1, 2, 3, 4, 5}, r.floats("b"));
            try (Stream<Path> files = Files.list(tmp)) {
                assertEquals(List.of(file), files.toList()); // no temporary file left
            }
        }
    }

    @Test
    void exportOfAnOfficialCheckpointKeepsItsNamesOrderAndBytes(@TempDir Path tmp)
            throws Exception {
        SpecReader official = SpecReader.read(DECODE.resolve("tensors.safetensors"));
        try (NDManager manager = NDManager.newBaseManager();
                ReferenceCase c = ReferenceCase.load(manager, DECODE)) {
            CausalLm model =
                    OfficialWeights.loadModel(
                            c.getConfig(), c.parameters(), manager, DataType.FLOAT32);
            OfficialWeights.save(model, tmp.resolve("again"));
            SpecReader exported = SpecReader.read(tmp.resolve("again/model.safetensors"));
            List<String> officialParams = new ArrayList<>(official.names());
            officialParams.retainAll(c.parameters().names());
            assertEquals(officialParams, exported.names());
            for (String name : officialParams) {
                assertArrayEquals(official.bytes(name), exported.bytes(name), name);
                // the parameters come first in the official file too: same offsets
                assertEquals(official.header().get(name), exported.header().get(name), name);
            }
        }
    }

    @Test
    void configHoldsTheOfficialKeysOnly(@TempDir Path tmp) throws Exception {
        // an explicit [4] is the official inner MLP: exported, without ttt-djl's own key
        TttConfig config =
                TestModels.tiny(LayerType.MLP).toBuilder()
                        .setInnerHiddenMultiples(List.of(4))
                        .build();
        try (NDManager manager = NDManager.newBaseManager()) {
            OfficialWeights.save(TestModels.model(config, manager, 1), tmp.resolve("mlp"));
        }
        JsonObject json =
                JsonParser.parseString(Files.readString(tmp.resolve("mlp/config.json")))
                        .getAsJsonObject();
        for (String key : json.keySet()) {
            assertTrue(OFFICIAL_KEYS.contains(key) || HF_KEYS.contains(key), key);
        }
        assertTrue(json.keySet().containsAll(OFFICIAL_KEYS), json.keySet().toString());
        assertEquals("ttt", json.get("model_type").getAsString());
        assertEquals("TTTForCausalLM", json.getAsJsonArray("architectures").get(0).getAsString());
        assertEquals("float32", json.get("torch_dtype").getAsString());
        assertEquals("mlp", json.get("ttt_layer_type").getAsString());
        assertEquals(
                config.toBuilder().setInnerHiddenMultiples(null).build(),
                TttConfig.load(tmp.resolve("mlp/config.json")));
    }

    @Test
    void refusesWhatTheOfficialCodeCannotExpress(@TempDir Path tmp) throws Exception {
        Map<TttConfig, String> refused = new LinkedHashMap<>();
        refused.put(TestModels.tiny(LayerType.ATTENTION), "ttt_layer_type 'attention'");
        refused.put(
                TestModels.tiny(LayerType.LINEAR_ATTENTION), "ttt_layer_type 'linear_attention'");
        refused.put(
                TestModels.tiny(LayerType.MLP).toBuilder()
                        .setInnerHiddenMultiples(List.of(4, 4))
                        .build(),
                "ttt_inner_hidden_multiples [4, 4] has no official counterpart");
        refused.put(
                TestModels.tiny(LayerType.MLP).toBuilder()
                        .setInnerHiddenMultiples(List.of(2))
                        .build(),
                "ttt_inner_hidden_multiples [2] has no official counterpart");
        try (NDManager manager = NDManager.newBaseManager()) {
            for (Map.Entry<TttConfig, String> e : refused.entrySet()) {
                CausalLm model = TestModels.model(e.getKey(), manager, 1);
                Path dir = tmp.resolve("refused");
                IllegalArgumentException error =
                        assertThrows(
                                IllegalArgumentException.class,
                                () -> OfficialWeights.save(model, dir));
                assertTrue(error.getMessage().contains(e.getValue()), error.getMessage());
                assertFalse(Files.exists(dir));
            }
        }
        try (Stream<Path> left = Files.list(tmp)) {
            assertEquals(List.of(), left.toList());
        }
    }

    @Test
    void refusesToOverwriteAndLeavesNothingWhenItFails(@TempDir Path tmp) throws Exception {
        try (NDManager manager = NDManager.newBaseManager()) {
            CausalLm model = TestModels.model(TestModels.tiny(LayerType.LINEAR), manager, 1);
            Path full = tmp.resolve("full");
            Files.createDirectories(full);
            Files.writeString(full.resolve("notes.txt"), "keep me");
            Path empty = tmp.resolve("empty");
            Files.createDirectories(empty);
            for (Path dir : List.of(full, empty)) {
                assertThrows(
                        FileAlreadyExistsException.class, () -> OfficialWeights.save(model, dir));
            }
            try (Stream<Path> files = Files.list(full)) {
                assertEquals(List.of(full.resolve("notes.txt")), files.toList());
            }
            try (Stream<Path> files = Files.list(empty)) {
                assertEquals(0, files.count());
            }

            // a failure while writing (an extra file that is not there) leaves no folder at all
            Path dir = tmp.resolve("new");
            assertThrows(
                    NoSuchFileException.class,
                    () -> OfficialWeights.save(model, dir, List.of(tmp.resolve("missing.txt"))));
            try (Stream<Path> left = Files.list(tmp)) {
                assertEquals(Set.of(full, empty), Set.copyOf(left.toList()));
            }
        }
    }

    @Test
    void exportedLayerLoadsBackWithTheSameOutput(@TempDir Path tmp) throws Exception {
        for (LayerType type : List.of(LayerType.LINEAR, LayerType.MLP)) {
            TttConfig config = TestLayers.small(type, type == LayerType.MLP);
            try (NDManager manager = NDManager.newBaseManager()) {
                TttLayer layer = TestLayers.layer(config, manager, DataType.FLOAT32, 7);
                NDArray x =
                        TestLayers.input(
                                manager, 2, 40, config.getHiddenSize(), 9, DataType.FLOAT32);
                NDArray expected = TestLayers.forward(layer, x, "DUAL");
                Path dir = tmp.resolve(type.officialName());
                OfficialWeights.save(layer, dir);
                assertEquals(
                        List.copyOf(OfficialWeights.parameterNames(layer).keySet()),
                        SpecReader.read(dir.resolve("model.safetensors")).names());
                TttLayer loaded =
                        OfficialWeights.loadLayer(
                                dir.resolve("config.json"),
                                dir.resolve("model.safetensors"),
                                "",
                                manager,
                                DataType.FLOAT32);
                assertTrue(
                        expected.contentEquals(TestLayers.forward(loaded, x, "DUAL")),
                        type + " layer output differs");
            }
        }
    }

    @Test
    void jaxExportLoadsBackWithBitIdenticalLogits(@TempDir Path tmp) throws Exception {
        List<TttConfig> configs = fourTinyConfigs(1);
        for (int n = 0; n < configs.size(); n++) {
            TttConfig config = configs.get(n);
            try (NDManager manager = NDManager.newBaseManager()) {
                CausalLm model = TestModels.model(config, manager, 21 + n);
                NDArray ids = TestModels.ids(manager, 2, 37, config.getVocabSize(), 6);
                NDArray expected = logits(model, ids, manager);
                Path dir = tmp.resolve("jax-" + n);
                OfficialWeights.save(model, dir, OfficialWeights.Format.JAX, List.of());
                assertFalse(Files.exists(dir.resolve("model.safetensors")));
                CausalLm loaded =
                        OfficialWeights.loadModel(
                                dir.resolve("config.json"),
                                dir.resolve("model.npz"),
                                manager,
                                DataType.FLOAT32);
                NDArray actual = logits(loaded, ids, manager);
                assertTrue(expected.contentEquals(actual), describe(config) + ": JAX round trip");
            }
        }
    }

    @Test
    void jaxExportHasTheJaxNamesAndLayouts(@TempDir Path tmp) throws Exception {
        TttConfig config =
                TestModels.tiny(LayerType.MLP).toBuilder().setTieWordEmbeddings(false).build();
        try (NDManager manager = NDManager.newBaseManager()) {
            CausalLm model = TestModels.model(config, manager, 8);
            Path dir = tmp.resolve("jax");
            OfficialWeights.save(model, dir, OfficialWeights.Format.JAX, List.of());
            Map<String, Parameter> pt = OfficialWeights.parameterNames(model);
            try (StateDict jax = StateDict.load(manager, dir.resolve("model.npz"))) {
                String h = "params/model/h/1/";
                String s = h + "seq_modeling_block/";
                // the docs' table, name by name, for the second block of a Mamba-backbone TTT-MLP
                Set<String> expected = new java.util.TreeSet<>();
                for (String name :
                        List.of(
                                "wq/kernel",
                                "wv/kernel",
                                "wo/kernel",
                                "wg/kernel",
                                "conv_q/kernel",
                                "conv_q/bias",
                                "conv_k/kernel",
                                "conv_k/bias",
                                "learnable_ttt_lr/kernel",
                                "learnable_ttt_lr/bias",
                                "learnable_token_idx",
                                "ttt_norm/scale",
                                "ttt_norm/bias",
                                "ttt_dense_0",
                                "ttt_bias_0",
                                "ttt_dense_1",
                                "ttt_bias_1",
                                "post_norm/scale",
                                "post_norm/bias")) {
                    expected.add(s + name);
                }
                for (String name :
                        List.of(
                                "feed_forward/w1/kernel",
                                "feed_forward/w2/kernel",
                                "feed_forward/w3/kernel",
                                "seq_norm/kernel",
                                "ffn_norm/kernel",
                                "conv/conv1/kernel",
                                "conv/conv1/bias",
                                "conv/conv_norm/kernel")) {
                    expected.add(h + name);
                }
                Set<String> actual = new java.util.TreeSet<>();
                jax.names().stream().filter(x -> x.startsWith(h)).forEach(actual::add);
                assertEquals(expected, actual);
                assertEquals(pt.size(), jax.names().size());
                assertTrue(jax.contains("params/model/wte/embedding"));
                assertTrue(jax.contains("params/model/ln_f/kernel"));

                String p = "model.layers.1.";
                // kernels: (in, out) from (out, in)
                String[][] transposed = {
                    {s + "wq/kernel", p + "seq_modeling_block.q_proj.weight"},
                    {h + "feed_forward/w1/kernel", p + "mlp.gate_proj.weight"},
                    {h + "feed_forward/w2/kernel", p + "mlp.down_proj.weight"},
                    {h + "feed_forward/w3/kernel", p + "mlp.up_proj.weight"},
                    {"params/lm_head/kernel", "lm_head.weight"}
                };
                for (String[] names : transposed) {
                    assertSame(jax.get(names[0]), pt.get(names[1]), 1, 0);
                }
                // conv: w_jax[i, 0, c] = w_pt[c, 0, i]; the lr gate: (H, C, 1) from (H, 1, C)
                String[][] convs = {
                    {s + "conv_q/kernel", p + "seq_modeling_block.conv_q.weight"},
                    {h + "conv/conv1/kernel", p + "conv.conv.weight"}
                };
                for (String[] names : convs) {
                    assertSame(jax.get(names[0]), pt.get(names[1]), 2, 1, 0);
                }
                assertSame(
                        jax.get(s + "learnable_ttt_lr/kernel"),
                        pt.get(p + "seq_modeling_block.learnable_ttt_lr_weight"),
                        0,
                        2,
                        1);
                assertSame(jax.get(s + "ttt_dense_1"), pt.get(p + "seq_modeling_block.W2"));
                assertSame(
                        jax.get(s + "ttt_norm/scale"),
                        pt.get(p + "seq_modeling_block.ttt_norm_weight"));
            }
        }
    }

    @Test
    void jaxExportRefusesAQkSharingWithoutTheGate(@TempDir Path tmp) throws Exception {
        TttConfig config = TestModels.tiny(LayerType.LINEAR).toBuilder().setUseGate(false).build();
        try (NDManager manager = NDManager.newBaseManager()) {
            CausalLm model = TestModels.model(config, manager, 2);
            IllegalArgumentException e =
                    assertThrows(
                            IllegalArgumentException.class,
                            () ->
                                    OfficialWeights.save(
                                            model,
                                            tmp.resolve("jax"),
                                            OfficialWeights.Format.JAX,
                                            List.of()));
            assertTrue(
                    e.getMessage().contains("share_qk true with use_gate false"), e.getMessage());
            assertFalse(Files.exists(tmp.resolve("jax")));
            OfficialWeights.save(model, tmp.resolve("pytorch")); // the PyTorch code has it
        }
    }

    /** The JAX array equals the PyTorch parameter with its axes permuted. */
    private static void assertSame(NDArray jax, Parameter pytorch, int... axes) {
        NDArray expected =
                axes.length == 0 ? pytorch.getArray() : pytorch.getArray().transpose(axes);
        assertEquals(expected.getShape(), jax.getShape());
        assertTrue(expected.contentEquals(jax), "values of " + jax.getName());
    }

    private static NDArray logits(CausalLm model, NDArray ids, NDManager manager) {
        return model.forward(new ParameterStore(manager, false), new NDList(ids), false).head();
    }

    /**
     * A minimal safetensors reader written from the format's specification only (8-byte
     * little-endian header length N; N bytes of UTF-8 JSON, space-padded; the data, offsets
     * relative to its start, contiguous, little-endian), independent of {@link Safetensors}.
     */
    private record SpecReader(JsonObject header, byte[] data) {

        static SpecReader read(Path file) throws Exception {
            return parse(Files.readAllBytes(file));
        }

        static SpecReader parse(byte[] bytes) {
            long n = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
            assertTrue(n > 0 && 8 + n <= bytes.length, "header length " + n);
            assertEquals(0, (8 + n) % 8, "the data must start at a multiple of 8 bytes");
            String text = new String(bytes, 8, (int) n, StandardCharsets.UTF_8);
            assertEquals('{', text.charAt(0));
            String trimmed = text.stripTrailing();
            assertTrue(trimmed.endsWith("}"), "header must end with } then spaces only");
            assertEquals(
                    text.length() - trimmed.length(),
                    text.length() - text.replaceAll(" +$", "").length(),
                    "padding must be spaces");
            JsonObject header = JsonParser.parseString(trimmed).getAsJsonObject();
            byte[] data = Arrays.copyOfRange(bytes, (int) (8 + n), bytes.length);
            SpecReader r = new SpecReader(header, data);
            // the buffer is entirely indexed, without holes or overlaps
            long end = 0;
            for (String name : r.names()) {
                long[] o = r.offsets(name);
                assertEquals(end, o[0], name + " starts where the previous tensor ends");
                long elements = 1;
                for (long d : r.shape(name)) {
                    elements *= d;
                }
                assertEquals(elements * width(r.dtype(name)), o[1] - o[0], name + " byte size");
                end = o[1];
            }
            assertEquals(data.length, end, "data section length");
            return r;
        }

        /** Tensor names in data order. */
        List<String> names() {
            List<String> names = new ArrayList<>(header.keySet());
            names.remove("__metadata__");
            names.sort((a, b) -> Long.compare(offsets(a)[0], offsets(b)[0]));
            return names;
        }

        Set<String> dtypes() {
            Set<String> types = new java.util.TreeSet<>();
            names().forEach(n -> types.add(dtype(n)));
            return types;
        }

        Map<String, String> metadata() {
            Map<String, String> m = new LinkedHashMap<>();
            if (header.has("__metadata__")) {
                header.getAsJsonObject("__metadata__")
                        .entrySet()
                        .forEach(e -> m.put(e.getKey(), e.getValue().getAsString()));
            }
            return m;
        }

        String dtype(String name) {
            return header.getAsJsonObject(name).get("dtype").getAsString();
        }

        long[] shape(String name) {
            return toLongs(header.getAsJsonObject(name).getAsJsonArray("shape"));
        }

        long[] offsets(String name) {
            return toLongs(header.getAsJsonObject(name).getAsJsonArray("data_offsets"));
        }

        byte[] bytes(String name) {
            long[] o = offsets(name);
            return Arrays.copyOfRange(data, (int) o[0], (int) o[1]);
        }

        float[] floats(String name) {
            byte[] b = bytes(name);
            float[] out = new float[b.length / 4];
            ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(out);
            return out;
        }

        private static long[] toLongs(com.google.gson.JsonArray a) {
            long[] out = new long[a.size()];
            for (int i = 0; i < out.length; i++) {
                out[i] = a.get(i).getAsLong();
            }
            return out;
        }

        private static int width(String dtype) {
            switch (dtype) {
                case "F64":
                case "I64":
                    return 8;
                case "F32":
                case "I32":
                    return 4;
                case "F16":
                case "BF16":
                case "I16":
                    return 2;
                default:
                    return 1;
            }
        }
    }
}
