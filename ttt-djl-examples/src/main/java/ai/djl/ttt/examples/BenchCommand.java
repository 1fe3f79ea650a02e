package ai.djl.ttt.examples;

import picocli.CommandLine.Command;

/** {@code ttt bench}: measurements. */
@Command(
        name = "bench",
        mixinStandardHelpOptions = true,
        description = "Benchmarks (each prints a table).",
        subcommands = {SpeedBench.class, DecodeMemoryBench.class})
final class BenchCommand {}
