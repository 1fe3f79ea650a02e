package ai.djl.ttt.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.MalformedModelException;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import ai.djl.ttt.GradOnThread;
import ai.djl.ttt.config.LayerType;
import ai.djl.ttt.config.TttConfig;
import ai.djl.ttt.lm.CausalLm;
import ai.djl.ttt.lm.TestModels;
import ai.djl.ttt.nn.TttLayer;
import ai.djl.ttt.nn.TttLinear;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OfficialWeightsTest {

    private static final Path LINEAR = OfficialParityTest.fixture("ttt_linear_layer_T64");

    @Test
    void npzAndSafetensorsGiveTheSameLayer() throws Exception {
        try (NDManager manager = NDManager.newBaseManager();
                ReferenceCase c = ReferenceCase.load(manager, LINEAR)) {
            StateDict params = c.parameters();
            TttLayer fromSafetensors =
                    OfficialWeights.loadLayer(c.getConfig(), params, manager, DataType.FLOAT32);
            try (StateDict npz = StateDict.load(manager, LINEAR.resolve("tensors.npz"))) {
                TttLayer fromNpz =
                        OfficialWeights.loadLayer(
                                c.getConfig(),
                                npz.filter(params.names()::contains),
                                manager,
                                DataType.FLOAT32);
                NDArray x = c.tensors().get("hidden_states");
                ParameterStore ps = new ParameterStore(manager, false);
                NDArray a = fromSafetensors.forward(ps, new NDList(x), false).head();
                NDArray b = fromNpz.forward(ps, new NDList(x), false).head();
                assertEquals(0.0, ParityCheck.relativeError(a, b));
            }
        }
    }

    @Test
    void loadingOnAThreadWhereAutogradIsOnGivesTheSameLayer() throws Exception {
        // libtorch's grad mode is on by default on every thread but the engine's, and refuses
        // in-place writes to parameters there unless the load turns it off
        try (NDManager manager = NDManager.newBaseManager();
                ReferenceCase c = ReferenceCase.load(manager, LINEAR)) {
            TttLayer here =
                    OfficialWeights.loadLayer(
                            c.getConfig(), c.parameters(), manager, DataType.FLOAT32);
            TttLayer there =
                    GradOnThread.call(
                            () ->
                                    OfficialWeights.loadLayer(
                                            c.getConfig(),
                                            c.parameters(),
                                            manager,
                                            DataType.FLOAT32));
            NDArray x = c.tensors().get("hidden_states");
            ParameterStore ps = new ParameterStore(manager, false);
            NDArray a = here.forward(ps, new NDList(x), false).head();
            NDArray b = there.forward(ps, new NDList(x), false).head();
            assertEquals(0.0, ParityCheck.relativeError(a, b));
        }
    }

    @Test
    void loadsALayerUnderAPrefixFromConfigAndTensorFiles(@TempDir Path dir) throws Exception {
        try (NDManager manager = NDManager.newBaseManager();
                ReferenceCase c = ReferenceCase.load(manager, LINEAR)) {
            // write the parameters as they appear inside an official TTTForCausalLM state dict
            String prefix = "model.layers.0.seq_modeling_block.";
            NDList prefixed = new NDList();
            for (String name : c.parameters().names()) {
                NDArray a = c.tensors().get(name).duplicate();
                a.setName(prefix + name);
                prefixed.add(a);
            }
            NDArray other = manager.zeros(new Shape(128, 64));
            other.setName("model.embed_tokens.weight");
            prefixed.add(other);
            Path file = dir.resolve("model.safetensors");
            try (var os = Files.newOutputStream(file)) {
                prefixed.encode(os, NDList.Encoding.SAFETENSORS);
            }
            c.getConfig().save(dir.resolve("config.json"));

            TttLayer layer =
                    OfficialWeights.loadLayer(
                            dir.resolve("config.json"), file, prefix, manager, DataType.FLOAT32);
            NDArray out =
                    layer.forward(
                                    new ParameterStore(manager, false),
                                    new NDList(c.tensors().get("hidden_states")),
                                    false)
                            .head();
            assertTrue(ParityCheck.relativeError(out, c.tensors().get("output")) < 1e-5);
        }
    }

    @Test
    void mismatchedTensorsAreNamedWithBothShapes() throws Exception {
        try (NDManager manager = NDManager.newBaseManager();
                ReferenceCase c = ReferenceCase.load(manager, LINEAR)) {
            Map<String, NDArray> tensors = new LinkedHashMap<>();
            for (String name : c.parameters().names()) {
                tensors.put(name, c.tensors().get(name));
            }
            tensors.remove("ttt_norm_bias");
            tensors.put("W1", manager.zeros(new Shape(4, 16, 8)));
            tensors.put("W9", manager.zeros(new Shape(3)));
            TttLayer layer = TttLayer.fromConfig(c.getConfig());
            layer.initialize(manager, DataType.FLOAT32, new Shape(1, 16, 64));
            IllegalArgumentException e =
                    assertThrows(
                            IllegalArgumentException.class,
                            () ->
                                    OfficialWeights.load(
                                            layer,
                                            StateDict.of(
                                                    manager.newSubManager(), tensors, "test")));
            String m = e.getMessage();
            assertTrue(m.contains("missing tensor 'ttt_norm_bias' (expected shape (4, 16))"), m);
            assertTrue(
                    m.contains(
                            "tensor 'W1' has shape (4, 16, 8) in the file but TttLinear expects (4, 16, 16)"),
                    m);
            assertTrue(m.contains("unexpected tensor 'W9' (shape (3))"), m);
        }
    }

    @Test
    void mambaFlagsNeedTheirExtraTensors() throws Exception {
        try (NDManager manager = NDManager.newBaseManager();
                ReferenceCase c = ReferenceCase.load(manager, LINEAR)) {
            TttConfig mamba = c.getConfig().toBuilder().mambaBackbone().build();
            IllegalArgumentException e =
                    assertThrows(
                            IllegalArgumentException.class,
                            () ->
                                    OfficialWeights.loadLayer(
                                            mamba, c.parameters(), manager, DataType.FLOAT32));
            assertTrue(
                    e.getMessage()
                            .contains(
                                    "missing tensor 'conv_q.weight' (expected shape (64, 1, 4))"));
            assertTrue(e.getMessage().contains("unexpected tensor 'k_proj.weight'"));
            assertEquals(
                    TttLinear.class,
                    TttLayer.fromConfig(c.getConfig()).getClass(),
                    "the config's layer type chooses the block");
        }
    }

    @Test
    void corruptFileIsAClearError(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("broken.safetensors");
        byte[] bytes = Files.readAllBytes(LINEAR.resolve("tensors.safetensors"));
        Files.write(file, java.util.Arrays.copyOf(bytes, 200));
        try (NDManager manager = NDManager.newBaseManager()) {
            MalformedModelException e =
                    assertThrows(
                            MalformedModelException.class, () -> StateDict.load(manager, file));
            assertTrue(
                    e.getMessage().contains("broken.safetensors is not a readable"),
                    e.getMessage());
        }
    }

    @Test
    void modelParametersHaveTheOfficialStateDictNamesInOrder() {
        String ttt =
                "learnable_token_idx learnable_ttt_lr_weight learnable_ttt_lr_bias ttt_norm_weight"
                        + " ttt_norm_bias W1 b1 q_proj.weight v_proj.weight o_proj.weight"
                        + " conv_q.weight conv_q.bias conv_k.weight conv_k.bias g_proj.weight"
                        + " post_norm.weight post_norm.bias";
        String attention = "q_proj.weight k_proj.weight v_proj.weight o_proj.weight";
        String linearAttention = attention + " post_norm.weight post_norm.bias";
        String mlp = " mlp.gate_proj.weight mlp.up_proj.weight mlp.down_proj.weight";
        String conv = " conv.norm.weight conv.conv.weight conv.conv.bias";
        String norms = " seq_norm.weight ffn_norm.weight";
        // TestModels.tiny: the Mamba backbone (pre-conv) for TTT layers only
        Map<LayerType, String> blocks =
                Map.of(
                        LayerType.LINEAR, seq(ttt) + mlp + conv + norms,
                        LayerType.ATTENTION, seq(attention) + mlp + norms,
                        LayerType.LINEAR_ATTENTION, seq(linearAttention) + mlp + norms);
        for (Map.Entry<LayerType, String> e : blocks.entrySet()) {
            try (NDManager manager = NDManager.newBaseManager()) {
                TttConfig config = TestModels.tiny(e.getKey());
                CausalLm model = TestModels.model(config, manager, 1);
                StringBuilder expected = new StringBuilder("model.embed_tokens.weight");
                for (int i = 0; i < config.getNumHiddenLayers(); i++) {
                    for (String name : e.getValue().trim().split(" ")) {
                        expected.append(" model.layers.").append(i).append('.').append(name);
                    }
                }
                expected.append(" model.norm.weight");
                assertEquals(
                        expected.toString(),
                        String.join(" ", OfficialWeights.parameterNames(model).keySet()),
                        e.getKey().toString());
            }
        }
    }

    private static String seq(String names) {
        StringBuilder out = new StringBuilder();
        for (String name : names.split(" ")) {
            out.append(" seq_modeling_block.").append(name);
        }
        return out.toString();
    }
}
