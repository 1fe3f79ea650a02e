package ai.djl.ttt.examples;

import ai.djl.Device;
import ai.djl.MalformedModelException;
import ai.djl.ndarray.NDManager;
import ai.djl.ttt.io.ParityCheck;
import ai.djl.ttt.io.ReferenceCase;
import ai.djl.ttt.runtime.Precision;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code ttt parity CASE_DIR...}: our layers against tensors written by the official code. */
@Command(
        name = "parity",
        description = {
            "Checks ttt-djl against tensors produced by the official PyTorch code (ttt.py).",
            "Each CASE_DIR holds config.json (the official TTTConfig, at top level or under"
                    + " \"ttt_config\") and tensors.safetensors or tensors.npz (parameters under"
                    + " their official names, hidden_states, and the expected output).",
            "Prints ||ours - official|| / ||official|| for every output; outputs named *_f64 are"
                    + " compared with a float64 run and held to --tolerance-f64. When both tensor"
                    + " files are present they must hold the same tensors. A case that lists no"
                    + " output, lacks a listed one, or has position_ids this check cannot run is"
                    + " reported and the other cases still run.",
            "Exit status: 0 all within tolerance, 1 some output above it, 2 a case could not be"
                    + " checked."
        },
        mixinStandardHelpOptions = true)
final class ParityCommand implements Callable<Integer> {

    @Parameters(paramLabel = "CASE_DIR", arity = "1..*", description = "reference case folders")
    List<Path> cases;

    @Option(
            names = "--tolerance",
            defaultValue = "1e-5",
            description =
                    "largest accepted relative error of float32 outputs (default:"
                            + " ${DEFAULT-VALUE})")
    double tolerance;

    @Mixin DeviceOptions device;

    @Mixin PrecisionOptions precision;

    @Option(
            names = "--tolerance-f16",
            defaultValue = "2e-3",
            description =
                    "with --dtype float16: largest accepted relative error of the float32 outputs,"
                            + " computed one row and one token per call through the float16"
                            + " weights (default: ${DEFAULT-VALUE}; docs/precision.md says why)")
    double toleranceF16;

    @Option(
            names = "--tolerance-f64",
            defaultValue = "1e-12",
            description =
                    "largest accepted relative error of float64 (*_f64) outputs (default:"
                            + " ${DEFAULT-VALUE})")
    double toleranceF64;

    /** {@inheritDoc} */
    @Override
    public Integer call() {
        Precision dtype = precision.get(); // before any array: bfloat16 is one error line
        Device on = device.get(); // before any output: a missing GPU is one error line
        Options.requirePositive("--tolerance-f16", toleranceF16);
        double f32 = dtype == Precision.FLOAT16 ? toleranceF16 : tolerance;
        Options.requirePositive("--tolerance", tolerance);
        Options.requirePositive("--tolerance-f64", toleranceF64);
        for (Path dir : cases) {
            // a mistyped path is a usage error, not a case that could not be checked
            if (!Files.isDirectory(dir)) {
                throw new IllegalArgumentException(
                        "CASE_DIR "
                                + dir
                                + ": "
                                + (Files.exists(dir) ? "not a folder" : "no such folder")
                                + " (expected "
                                + ReferenceCase.EXPECTED
                                + ")");
            }
        }
        PrintStream out = System.out;
        out.printf(
                Locale.ROOT,
                "%-24s %-8s %-20s %12s  %s%n",
                "case",
                "kind",
                "output",
                "rel. error",
                "");
        int status = 0;
        try (NDManager manager = NDManager.newBaseManager(on)) {
            for (Path dir : cases) {
                String name = dir.getFileName().toString();
                try (ReferenceCase c = ReferenceCase.load(manager, dir)) {
                    for (ParityCheck.Result r : ParityCheck.run(manager, c, dtype)) {
                        boolean ok = r.within(f32, toleranceF64);
                        out.printf(
                                Locale.ROOT,
                                "%-24s %-8s %-20s %12.3e  %s%n",
                                name,
                                c.getKind(),
                                r.output(),
                                r.relativeError(),
                                ok ? "ok" : "ABOVE TOLERANCE");
                        if (!ok) {
                            status = Math.max(status, 1);
                        }
                    }
                } catch (IOException
                        | MalformedModelException
                        | IllegalArgumentException
                        | UnsupportedOperationException e) {
                    out.printf(Locale.ROOT, "%-24s not checked: %s%n", name, e.getMessage());
                    status = 2;
                }
            }
        }
        out.printf(
                Locale.ROOT,
                "%s (tolerance %.1e float32%s, %.1e float64)%n",
                status == 0 ? "PASS" : status == 1 ? "FAIL" : "INCOMPLETE",
                f32,
                dtype == Precision.FLOAT16 ? " in float16 mode" : "",
                toleranceF64);
        return status;
    }
}
