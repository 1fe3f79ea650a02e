package ai.djl.ttt.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The parameter names and layouts of the official JAX code ({@code ttt-lm-jax}, flax), against the
 * PyTorch names that ttt-djl uses: the table of docs/official-checkpoints.md, in both directions.
 * {@code …} is {@code params/model/h/{i}/} on the JAX side and {@code model.layers.{i}.} on the
 * PyTorch side. Every layout change is its own inverse (a transpose of a matrix, of the last two
 * axes, or of all three axes), so one table serves both directions.
 *
 * <pre>{@code
 * Map<String, NDArray> jax = JaxNames.fromPytorch(pytorchTensors, true, manager); // for an .npz
 * Map<String, NDArray> pt = JaxNames.toPytorch(jaxTensors, manager);             // and back
 * }</pre>
 */
public final class JaxNames {

    /** The JAX name of the token embedding, present in every JAX language model. */
    public static final String EMBEDDING = "params/model/wte/embedding";

    private static final Pattern PT_LAYER = Pattern.compile("model\\.layers\\.(\\d+)\\.(.+)");
    private static final Pattern JAX_LAYER = Pattern.compile("params/model/h/(\\d+)/(.+)");
    private static final Pattern PT_INNER = Pattern.compile("seq_modeling_block\\.([Wb])(\\d+)");
    private static final Pattern JAX_INNER =
            Pattern.compile("seq_modeling_block/ttt_(dense|bias)_(\\d+)");

    /** How a tensor's layout changes between the two codes. */
    private enum Layout {
        /** the same array. */
        SAME,
        /** a linear layer's kernel: PyTorch {@code (out, in)}, JAX {@code (in, out)}. */
        TRANSPOSE,
        /** the learning-rate gate: PyTorch {@code (H, 1, C)}, JAX {@code (H, C, 1)}. */
        SWAP_LAST_TWO,
        /** a depthwise conv: PyTorch {@code (C, 1, k)}, JAX {@code (k, 1, C)}. */
        REVERSE_AXES;

        NDArray apply(NDArray a) {
            switch (this) {
                case TRANSPOSE:
                    return a.transpose(1, 0);
                case SWAP_LAST_TWO:
                    return a.transpose(0, 2, 1);
                case REVERSE_AXES:
                    return a.transpose(2, 1, 0);
                default:
                    return a;
            }
        }

        /**
         * The shape {@link #apply} gives an array of shape {@code s} (each change is its inverse).
         */
        Shape apply(Shape s) {
            switch (this) {
                case TRANSPOSE:
                    return new Shape(s.get(1), s.get(0));
                case SWAP_LAST_TWO:
                    return new Shape(s.get(0), s.get(2), s.get(1));
                case REVERSE_AXES:
                    return new Shape(s.get(2), s.get(1), s.get(0));
                default:
                    return s;
            }
        }
    }

    private record Rule(String pytorch, String jax, Layout layout) {}

    /** Inside a block: PyTorch suffix, JAX suffix, layout. */
    private static final List<Rule> LAYER_RULES =
            List.of(
                    new Rule(
                            "seq_modeling_block.q_proj.weight",
                            "seq_modeling_block/wq/kernel",
                            Layout.TRANSPOSE),
                    new Rule(
                            "seq_modeling_block.k_proj.weight",
                            "seq_modeling_block/wk/kernel",
                            Layout.TRANSPOSE),
                    new Rule(
                            "seq_modeling_block.v_proj.weight",
                            "seq_modeling_block/wv/kernel",
                            Layout.TRANSPOSE),
                    new Rule(
                            "seq_modeling_block.o_proj.weight",
                            "seq_modeling_block/wo/kernel",
                            Layout.TRANSPOSE),
                    new Rule(
                            "seq_modeling_block.g_proj.weight",
                            "seq_modeling_block/wg/kernel",
                            Layout.TRANSPOSE),
                    new Rule(
                            "seq_modeling_block.conv_q.weight",
                            "seq_modeling_block/conv_q/kernel",
                            Layout.REVERSE_AXES),
                    new Rule(
                            "seq_modeling_block.conv_q.bias",
                            "seq_modeling_block/conv_q/bias",
                            Layout.SAME),
                    new Rule(
                            "seq_modeling_block.conv_k.weight",
                            "seq_modeling_block/conv_k/kernel",
                            Layout.REVERSE_AXES),
                    new Rule(
                            "seq_modeling_block.conv_k.bias",
                            "seq_modeling_block/conv_k/bias",
                            Layout.SAME),
                    new Rule(
                            "seq_modeling_block.learnable_ttt_lr_weight",
                            "seq_modeling_block/learnable_ttt_lr/kernel",
                            Layout.SWAP_LAST_TWO),
                    new Rule(
                            "seq_modeling_block.learnable_ttt_lr_bias",
                            "seq_modeling_block/learnable_ttt_lr/bias",
                            Layout.SAME),
                    new Rule(
                            "seq_modeling_block.learnable_token_idx",
                            "seq_modeling_block/learnable_token_idx",
                            Layout.SAME),
                    new Rule(
                            "seq_modeling_block.ttt_norm_weight",
                            "seq_modeling_block/ttt_norm/scale",
                            Layout.SAME),
                    new Rule(
                            "seq_modeling_block.ttt_norm_bias",
                            "seq_modeling_block/ttt_norm/bias",
                            Layout.SAME),
                    new Rule(
                            "seq_modeling_block.post_norm.weight",
                            "seq_modeling_block/post_norm/scale",
                            Layout.SAME),
                    new Rule(
                            "seq_modeling_block.post_norm.bias",
                            "seq_modeling_block/post_norm/bias",
                            Layout.SAME),
                    new Rule("mlp.gate_proj.weight", "feed_forward/w1/kernel", Layout.TRANSPOSE),
                    new Rule("mlp.up_proj.weight", "feed_forward/w3/kernel", Layout.TRANSPOSE),
                    new Rule("mlp.down_proj.weight", "feed_forward/w2/kernel", Layout.TRANSPOSE),
                    new Rule("seq_norm.weight", "seq_norm/kernel", Layout.SAME),
                    new Rule("ffn_norm.weight", "ffn_norm/kernel", Layout.SAME),
                    new Rule("conv.conv.weight", "conv/conv1/kernel", Layout.REVERSE_AXES),
                    new Rule("conv.conv.bias", "conv/conv1/bias", Layout.SAME),
                    new Rule("conv.norm.weight", "conv/conv_norm/kernel", Layout.SAME));

    /** Outside the blocks. */
    private static final List<Rule> MODEL_RULES =
            List.of(
                    new Rule("model.embed_tokens.weight", EMBEDDING, Layout.SAME),
                    new Rule("model.norm.weight", "params/model/ln_f/kernel", Layout.SAME),
                    new Rule("lm_head.weight", "params/lm_head/kernel", Layout.TRANSPOSE));

    private JaxNames() {}

    /**
     * Renames and re-lays a causal LM's PyTorch-named tensors as the JAX code names them. A tied
     * model's {@code lm_head.weight} (the embedding again) is left out: the JAX code has no head
     * kernel when {@code tie_word_embeddings} is true.
     *
     * @param pytorch tensors under their official PyTorch names, in state-dict order
     * @param tied whether the embeddings are tied
     * @param manager the manager of the re-laid arrays (the others are the given ones)
     * @return the same tensors under their JAX names, in the same order
     * @throws IllegalArgumentException for a name the table does not know
     */
    public static Map<String, NDArray> fromPytorch(
            Map<String, NDArray> pytorch, boolean tied, NDManager manager) {
        Map<String, NDArray> out = new LinkedHashMap<>();
        for (Map.Entry<String, NDArray> e : pytorch.entrySet()) {
            if (tied && "lm_head.weight".equals(e.getKey())) {
                continue;
            }
            Mapped m = toJax(e.getKey());
            out.put(m.name, relaid(e.getValue(), m.layout, manager));
        }
        return out;
    }

    /**
     * Renames and re-lays JAX-named tensors as the PyTorch code names them (the inverse of {@link
     * #fromPytorch}).
     *
     * @param jax tensors under their JAX names
     * @param manager the manager of the re-laid arrays (the others are the given ones)
     * @return the same tensors under their PyTorch names
     * @throws IllegalArgumentException for a name the table does not know
     */
    public static Map<String, NDArray> toPytorch(Map<String, NDArray> jax, NDManager manager) {
        Map<String, NDArray> out = new LinkedHashMap<>();
        for (Map.Entry<String, NDArray> e : jax.entrySet()) {
            Mapped m = fromJax(e.getKey());
            out.put(m.name, relaid(e.getValue(), m.layout, manager));
        }
        return out;
    }

    /**
     * Returns a state dict's tensors under their PyTorch names: unchanged if it holds PyTorch
     * names, converted if it holds the JAX code's (it has {@value #EMBEDDING}).
     *
     * @param dict the state dict
     * @param manager the manager of converted arrays
     * @return a state dict with PyTorch names (the same one if nothing was converted)
     */
    static StateDict asPytorch(StateDict dict, NDManager manager) {
        if (!dict.contains(EMBEDDING)) {
            return dict;
        }
        Map<String, NDArray> jax = new LinkedHashMap<>();
        for (String name : dict.names()) {
            jax.put(name, dict.get(name));
        }
        NDManager sub = manager.newSubManager();
        return StateDict.of(sub, toPytorch(jax, sub), dict.getSource() + " (JAX names)");
    }

    /**
     * Returns declared tensor shapes under their PyTorch names: unchanged if they are PyTorch
     * names, renamed and re-laid if they are the JAX code's (they hold {@value #EMBEDDING}); what
     * {@link #asPytorch} does to the arrays, done to their shapes before anything is read.
     *
     * @param shapes declared shapes by tensor name
     * @return the shapes under PyTorch names (the same map if nothing was converted)
     * @throws IllegalArgumentException for a JAX name the table does not know
     */
    public static Map<String, Shape> shapesAsPytorch(Map<String, Shape> shapes) {
        if (!shapes.containsKey(EMBEDDING)) {
            return shapes;
        }
        Map<String, Shape> out = new LinkedHashMap<>();
        for (Map.Entry<String, Shape> e : shapes.entrySet()) {
            Mapped m = fromJax(e.getKey());
            out.put(
                    m.name,
                    e.getValue().dimension() == 0 ? e.getValue() : m.layout.apply(e.getValue()));
        }
        return out;
    }

    /** A name on the other side and the layout change to get there. */
    private record Mapped(String name, Layout layout) {}

    /**
     * One code's naming: its name in a rule, its per-layer names ({@code layer}: the layer index
     * and the rest) and its inner-model names ({@code inner}: the dense/bias word and the index,
     * counted from {@code firstInner}), and what an unknown name is called in a message.
     */
    private record Naming(
            Function<Rule, String> of,
            Pattern layer,
            String layerPrefix,
            Pattern inner,
            String innerFormat,
            String denseWord,
            String biasWord,
            int firstInner,
            String unknown) {

        String innerName(boolean dense, int index) {
            return String.format(
                    Locale.ROOT, innerFormat, dense ? denseWord : biasWord, index + firstInner);
        }
    }

    private static final Naming PYTORCH =
            new Naming(
                    Rule::pytorch,
                    PT_LAYER,
                    "model.layers.%s.",
                    PT_INNER,
                    "seq_modeling_block.%s%d",
                    "W",
                    "b",
                    1,
                    "has no JAX name (docs/official-checkpoints.md lists them)");

    private static final Naming JAX =
            new Naming(
                    Rule::jax,
                    JAX_LAYER,
                    "params/model/h/%s/",
                    JAX_INNER,
                    "seq_modeling_block/ttt_%s_%d",
                    "dense",
                    "bias",
                    0,
                    "is not a JAX TTT parameter name (docs/official-checkpoints.md lists them)");

    private static Mapped toJax(String name) {
        return rename(name, PYTORCH, JAX);
    }

    private static Mapped fromJax(String name) {
        return rename(name, JAX, PYTORCH);
    }

    /** A tensor's name in one code's naming, and its layout change, in the other's. */
    private static Mapped rename(String name, Naming from, Naming to) {
        for (Rule r : MODEL_RULES) {
            if (from.of.apply(r).equals(name)) {
                return new Mapped(to.of.apply(r), r.layout);
            }
        }
        Matcher layer = from.layer.matcher(name);
        if (layer.matches()) {
            String prefix = String.format(Locale.ROOT, to.layerPrefix, layer.group(1));
            String rest = layer.group(2);
            Matcher inner = from.inner.matcher(rest);
            if (inner.matches()) {
                boolean dense = inner.group(1).equals(from.denseWord);
                int index = Integer.parseInt(inner.group(2)) - from.firstInner;
                return new Mapped(prefix + to.innerName(dense, index), Layout.SAME);
            }
            for (Rule r : LAYER_RULES) {
                if (from.of.apply(r).equals(rest)) {
                    return new Mapped(prefix + to.of.apply(r), r.layout);
                }
            }
        }
        throw new IllegalArgumentException("tensor '" + name + "' " + from.unknown);
    }

    /** The array in the other code's layout, owned by {@code manager} if it is a new one. */
    private static NDArray relaid(NDArray a, Layout layout, NDManager manager) {
        if (layout == Layout.SAME) {
            return a;
        }
        NDArray out = layout.apply(a);
        out.attach(manager);
        return out;
    }
}
