package ai.djl.ttt.examples;

import ai.djl.ttt.TttVersion;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.IVersionProvider;

/**
 * The {@code ttt} command line. Run {@code ./bin/ttt --help} from the repository root.
 *
 * <p>Exit codes: 0 success, 1 a check failed (e.g. parity above tolerance), 2 bad usage or input.
 */
@Command(
        name = "ttt",
        mixinStandardHelpOptions = true,
        versionProvider = TttCli.Version.class,
        description = "Test-Time Training layers (TTT-Linear, TTT-MLP) for the Deep Java Library.",
        subcommands = {
            TrainCommand.class,
            GenerateCommand.class,
            EvalCommand.class,
            ParityCommand.class,
            BenchCommand.class,
            LongContextCommand.class,
            CommandLine.HelpCommand.class
        })
public final class TttCli {

    private TttCli() {}

    /** {@code --version}: the library's version from its jar's manifest. */
    static final class Version implements IVersionProvider {
        /** {@inheritDoc} */
        @Override
        public String[] getVersion() {
            return new String[] {"ttt-djl " + TttVersion.get()};
        }
    }

    /**
     * Runs the command line and exits with its status.
     *
     * @param args the arguments
     */
    public static void main(String[] args) {
        System.exit(run(args));
    }

    /**
     * Runs the command line without exiting (for tests and embedding).
     *
     * @param args the arguments
     * @return the exit status
     */
    public static int run(String... args) {
        CommandLine cli = new CommandLine(new TttCli());
        cli.setExecutionExceptionHandler(
                (e, commandLine, parseResult) -> {
                    commandLine.getErr().println("error: " + e.getMessage());
                    return 2;
                });
        return cli.execute(args);
    }
}
