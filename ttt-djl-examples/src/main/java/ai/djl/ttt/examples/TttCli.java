package ai.djl.ttt.examples;

import ai.djl.MalformedModelException;
import ai.djl.TrainingDivergedException;
import ai.djl.repository.zoo.ModelNotFoundException;
import ai.djl.translate.TranslateException;
import ai.djl.ttt.TttVersion;
import ai.djl.ttt.runtime.DeadlineExceededException;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.NoSuchFileException;
import java.util.Arrays;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.IVersionProvider;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

/**
 * The {@code ttt} command line. Run {@code ./bin/ttt --help} from the repository root.
 *
 * <p>Exit codes: 0 success, 1 a check failed (e.g. parity above tolerance), 2 bad usage or input.
 *
 * <p>Errors are printed as one line, {@code error: <what was expected, what came>}, from the
 * exception's message; never a bare exception text. {@code --stacktrace} (any command) adds the
 * full trace. This class is the one place that turns exceptions into messages.
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
            ExportCommand.class,
            BenchCommand.class,
            LongContextCommand.class,
            SoakCommand.class,
            CommandLine.HelpCommand.class
        })
public final class TttCli {

    /** The option that asks for the full stack trace of an error. */
    static final String STACKTRACE = "--stacktrace";

    @Option(
            names = STACKTRACE,
            scope = ScopeType.INHERIT,
            description = "on an error, print the full stack trace too")
    boolean stacktrace;

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
        boolean trace = Arrays.asList(args).contains(STACKTRACE);
        cli.setExecutionExceptionHandler(
                (e, commandLine, parseResult) -> {
                    PrintWriter err = commandLine.getErr();
                    err.println("error: " + message(e));
                    if (trace) {
                        e.printStackTrace(err);
                    } else if (!isExpected(e)) {
                        err.println("(run again with " + STACKTRACE + " for the full trace)");
                    }
                    err.flush();
                    return 2;
                });
        return cli.execute(args);
    }

    /** Bad input the commands report on purpose: their messages say what was expected. */
    private static boolean isExpected(Throwable e) {
        return e instanceof IllegalArgumentException
                || e instanceof IOException
                || e instanceof UncheckedIOException
                || e instanceof MalformedModelException
                || e instanceof ModelNotFoundException
                || e instanceof TrainingDivergedException
                || e instanceof DeadlineExceededException;
    }

    /**
     * The one-line message of an error: the message of input errors (the file-system ones, whose
     * message is only a path, get a few words), else the kind of error and its message.
     *
     * @param e the error
     * @return the message
     */
    static String message(Throwable e) {
        if (e instanceof TranslateException
                && e.getCause() != null
                && isExpected(e.getCause())
                && e.getCause().getMessage() != null) {
            return message(e.getCause());
        }
        if (e instanceof UncheckedIOException && e.getCause() != null) {
            return e.getMessage() + ": " + message(e.getCause());
        }
        if (e instanceof NoSuchFileException) {
            return "no such file or directory: " + ((NoSuchFileException) e).getFile();
        }
        if (e instanceof AccessDeniedException) {
            return "permission denied: " + ((AccessDeniedException) e).getFile();
        }
        if (e instanceof FileAlreadyExistsException) {
            return "already exists: " + ((FileAlreadyExistsException) e).getFile();
        }
        String text = e.getMessage();
        if (isExpected(e) && text != null && !text.isBlank()) {
            return text;
        }
        return "unexpected "
                + e.getClass().getSimpleName()
                + (text == null || text.isBlank() ? "" : ": " + text);
    }
}
