package ai.djl.ttt.examples;

import ai.djl.ttt.config.LayerType;
import ai.djl.ttt.config.TttConfig;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;
import picocli.CommandLine.Option;

/** The model options of {@code ttt train}: sequence layer, backbone and size. */
final class ModelOptions {

    @Option(
            names = "--layer",
            defaultValue = "linear",
            description =
                    "sequence layer: linear (TTT-Linear), mlp (TTT-MLP), attention or linear_attention (baselines); default ${DEFAULT-VALUE}")
    String layer;

    @Option(
            names = "--backbone",
            defaultValue = "mamba",
            description =
                    "mamba (the paper's: pre-conv, shared Q/K convs, gate) or transformer (the official code's defaults); default ${DEFAULT-VALUE}")
    String backbone;

    @Option(
            names = "--size",
            defaultValue = "small",
            description =
                    "tiny (C=64, 2 blocks), small (C=128, 3 blocks), base (C=256, 4 blocks), or an official preset: 125m, 350m, 760m, 1b; default ${DEFAULT-VALUE}")
    String size;

    /** The values of {@code --size}: ours, then the official presets. */
    static final List<String> SIZES =
            Stream.concat(Stream.of("tiny", "small", "base"), TttConfig.PRESETS.stream()).toList();

    /** The values of {@code --backbone}. */
    static final List<String> BACKBONES = List.of("mamba", "transformer");

    /** The values of {@code --layer}. */
    static final List<String> LAYERS =
            Arrays.stream(LayerType.values()).map(LayerType::officialName).toList();

    /** Checks the options, naming the allowed values of a bad one. */
    void validate() {
        layer = Options.requireOneOf("--layer", layer, LAYERS);
        backbone = Options.requireOneOf("--backbone", backbone, BACKBONES);
        size = Options.requireOneOf("--size", size, SIZES);
    }

    /** Builds the model config for a vocabulary. */
    TttConfig toConfig(int vocabSize) {
        return config(layer, backbone, size, vocabSize);
    }

    /**
     * The config of a named layer, backbone and size, as the options {@code --layer}, {@code
     * --backbone} and {@code --size} take them.
     */
    static TttConfig config(String layer, String backbone, String size, int vocabSize) {
        LayerType type = LayerType.fromOfficialName(layer);
        TttConfig.Builder b = TttConfig.builder();
        switch (size.toLowerCase(Locale.ROOT)) {
            case "tiny":
                b.setHiddenSize(64)
                        .setNumAttentionHeads(4)
                        .setNumHiddenLayers(2)
                        .setIntermediateSize(192);
                break;
            case "small":
                b.setHiddenSize(128)
                        .setNumAttentionHeads(4)
                        .setNumHiddenLayers(3)
                        .setIntermediateSize(384);
                break;
            case "base":
                b.setHiddenSize(256)
                        .setNumAttentionHeads(8)
                        .setNumHiddenLayers(4)
                        .setIntermediateSize(768);
                break;
            default:
                b.preset(size);
        }
        switch (backbone.toLowerCase(Locale.ROOT)) {
            case "mamba":
                b.mambaBackbone(type);
                break;
            case "transformer":
                b.transformerBackbone();
                break;
            default:
                throw new IllegalArgumentException(
                        "unknown backbone '" + backbone + "': expected mamba or transformer");
        }
        return b.setLayerType(type)
                .setTttBaseLr(type.paperBaseLr())
                .setVocabSize(vocabSize)
                .setBosTokenId(null)
                .setEosTokenId(null)
                .build();
    }

    String defaultModelDir() {
        return "models/ttt-" + layer + "-" + backbone + "-" + size;
    }
}
