package ai.djl.ttt.examples;

import ai.djl.ttt.lm.Generator;
import ai.djl.ttt.lm.SamplingConfig;
import ai.djl.ttt.runtime.Precision;
import ai.djl.ttt.training.IncrementalDecoder;
import ai.djl.ttt.training.ModelDirectory;
import ai.djl.ttt.training.Tokenizer;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code ttt generate}: continues prompts with a trained model. */
@Command(
        name = "generate",
        mixinStandardHelpOptions = true,
        description = {
            "Continues one or more prompts with a model saved by 'ttt train'.",
            "The prompt is prefilled in the dual form; each new token is decoded in the primal"
                    + " form with a recurrent state of constant size (TTT layers).",
            "One prompt streams its tokens as they come; several prompts are generated as one"
                    + " batch (each gives what it would give alone) and printed at the end."
        })
final class GenerateCommand implements Callable<Integer> {

    @Option(
            names = "--model-dir",
            required = true,
            description = "a directory written by 'ttt train'")
    Path modelDir;

    @Option(
            names = "--prompt",
            required = true,
            description = "text to continue (repeat for a batch)")
    List<String> prompts;

    @Option(
            names = "--max-tokens",
            defaultValue = "200",
            description = "most tokens per prompt (default ${DEFAULT-VALUE})")
    int maxTokens;

    @Option(
            names = "--temperature",
            defaultValue = "0.8",
            description = "0 for greedy (default ${DEFAULT-VALUE})")
    double temperature;

    @Option(
            names = "--top-k",
            defaultValue = "40",
            description = "keep the k most likely tokens, 0 for all (default ${DEFAULT-VALUE})")
    int topK;

    @Option(
            names = "--top-p",
            defaultValue = "1.0",
            description = "nucleus sampling mass, 1 for all (default ${DEFAULT-VALUE})")
    double topP;

    @Option(
            names = "--seed",
            defaultValue = "42",
            description = "sampling seed (default ${DEFAULT-VALUE})")
    long seed;

    @Option(
            names = "--stop",
            description =
                    "text that ends a sequence when generated; must be one token (repeatable)")
    List<String> stops = new ArrayList<>();

    @Option(
            names = "--max-prompt-tokens",
            defaultValue = "4096",
            description =
                    "refuse a prompt of more tokens, before anything is allocated (default"
                            + " ${DEFAULT-VALUE}, as the Serving limit maxPromptTokens)")
    int maxPromptTokens;

    @Option(
            names = "--max-batch",
            defaultValue = "32",
            description =
                    "refuse more --prompt values than this (default ${DEFAULT-VALUE}, as the"
                            + " Serving limit maxBatchSize)")
    int maxBatch;

    @Option(
            names = "--timeout",
            defaultValue = "0",
            description = "stop after this many seconds, between two tokens (default 0: no limit)")
    double timeoutSeconds;

    @Mixin EngineOptions engine;

    @Mixin DeviceOptions device;

    @Mixin PrecisionOptions precision;

    /** {@inheritDoc} */
    @Override
    public Integer call() throws Exception {
        Options.requireAtLeast("--max-tokens", maxTokens, 1);
        Options.requireNonNegative("--temperature", temperature);
        Options.requireAtLeast("--top-k", topK, 0);
        if (!(topP > 0 && topP <= 1)) {
            throw new IllegalArgumentException("--top-p must be a number in (0, 1], got " + topP);
        }
        Options.requireAtLeast("--max-prompt-tokens", maxPromptTokens, 1);
        Options.requireAtLeast("--max-batch", maxBatch, 1);
        Options.requireNonNegative("--timeout", timeoutSeconds);
        for (String prompt : prompts) {
            if (prompt.isEmpty()) {
                throw new IllegalArgumentException("--prompt must not be empty");
            }
        }
        if (prompts.size() > maxBatch) {
            throw new IllegalArgumentException(
                    prompts.size()
                            + " prompts are more than --max-batch "
                            + maxBatch
                            + ": generate them in several runs or raise --max-batch");
        }
        Precision dtype = precision.get();
        engine.apply("small");
        PrintStream out = System.out;
        try (ModelDirectory.Loaded loaded = ModelDirectory.load(modelDir, device.get())) {
            loaded.lm().setPrecision(dtype);
            Tokenizer tokenizer = loaded.tokenizer();
            SamplingConfig sampling =
                    SamplingConfig.builder()
                            .optMaxNewTokens(maxTokens)
                            .optTemperature(temperature)
                            .optTopK(topK)
                            .optTopP(topP)
                            .optSeed(seed)
                            .optStopTokens(stopTokens(tokenizer))
                            .optTimeout(
                                    timeoutSeconds > 0
                                            ? Duration.ofNanos((long) (timeoutSeconds * 1e9))
                                            : null)
                            .build();
            List<long[]> ids = new ArrayList<>();
            for (String prompt : prompts) {
                long[] encoded = tokenizer.encode(prompt);
                if (encoded.length > maxPromptTokens) {
                    throw new IllegalArgumentException(
                            "a --prompt has "
                                    + encoded.length
                                    + " tokens, more than --max-prompt-tokens "
                                    + maxPromptTokens);
                }
                ids.add(encoded);
            }
            Generator generator = new Generator(loaded.lm(), loaded.model().getNDManager());
            if (ids.size() == 1) {
                out.print(prompts.get(0));
                IncrementalDecoder decoder = new IncrementalDecoder(tokenizer);
                generator.generate(
                        ids,
                        sampling,
                        (row, token) -> {
                            out.print(decoder.add(token));
                            out.flush();
                        });
                out.println();
                return 0;
            }
            List<long[]> generated = generator.generate(ids, sampling, null);
            for (int i = 0; i < prompts.size(); i++) {
                out.println("---- prompt " + (i + 1));
                out.println(prompts.get(i) + tokenizer.decode(generated.get(i)));
            }
        }
        return 0;
    }

    private long[] stopTokens(Tokenizer tokenizer) {
        long[] tokens = new long[stops.size()];
        for (int i = 0; i < tokens.length; i++) {
            long[] encoded = tokenizer.encode(stops.get(i));
            if (encoded.length != 1) {
                throw new IllegalArgumentException(
                        "stop text '"
                                + stops.get(i)
                                + "' is "
                                + encoded.length
                                + " tokens; it must be one");
            }
            tokens[i] = encoded[0];
        }
        return tokens;
    }
}
