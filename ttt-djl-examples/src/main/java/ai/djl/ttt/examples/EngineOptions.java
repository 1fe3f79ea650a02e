package ai.djl.ttt.examples;

import picocli.CommandLine.Option;

/** {@code --threads}: PyTorch's intra-op threads, set before the engine starts. */
final class EngineOptions {

    private static final String PROPERTY = "ai.djl.pytorch.num_threads";

    @Option(
            names = "--threads",
            description =
                    "PyTorch intra-op threads (default: 1 for the small CPU sizes, where op"
                            + " overhead dominates and one thread measured faster, else all cores;"
                            + " at most the cores)")
    Integer threads;

    /** Sets the thread count unless the JVM was started with one (-Dai.djl.pytorch.num_threads). */
    void apply(String size) {
        if (threads != null) {
            Options.requireThreads("--threads", threads);
        }
        if (System.getProperty(PROPERTY) != null) {
            return;
        }
        int n =
                threads != null
                        ? threads
                        : switch (size) {
                            case "tiny", "small", "base" -> 1;
                            default -> Runtime.getRuntime().availableProcessors();
                        };
        System.setProperty(PROPERTY, Integer.toString(n));
    }
}
