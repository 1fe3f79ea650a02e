package ai.djl.ttt.zoo;

import java.util.function.Consumer;

/**
 * A prompt and a consumer that receives the generated text piece by piece, as soon as each token is
 * chosen: the input of the streaming text-generation translator.
 *
 * @param prompt the text to continue
 * @param onText receives each new piece of text
 */
public record GenerationRequest(String prompt, Consumer<String> onText) {}
