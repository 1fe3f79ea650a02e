package ai.djl.ttt.spark;

/**
 * A prompt with the seed of its own sampling: the input of {@link SeededGenerationTranslator}.
 *
 * @param prompt the text to continue
 * @param seed the seed of the sampler for this prompt
 */
public record SeededPrompt(String prompt, long seed) {}
