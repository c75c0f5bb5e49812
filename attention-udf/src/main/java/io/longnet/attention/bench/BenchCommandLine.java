package io.longnet.attention.bench;

import java.io.PrintStream;
import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/**
 * The command line of the benchmark mains (picocli, as the {@code longnet} CLI): a bad flag or value, or
 * an {@link IllegalArgumentException} from the run, ends in one line {@code bench: ...} on stderr and exit
 * code 2; {@code --help} prints the usage.
 */
public final class BenchCommandLine {

    private BenchCommandLine() {
    }

    /** Parses {@code args} into {@code command} and runs it; returns the exit code. */
    public static int execute(Object command, String[] args, PrintStream out, PrintStream err) {
        CommandLine cli = new CommandLine(command);
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(err, true));
        cli.setParameterExceptionHandler((e, line) -> {
            String message = e.getCause() instanceof IllegalArgumentException bad ? bad.getMessage() : e.getMessage();
            err.println("bench: " + message + " (try --help)");
            return 2;
        });
        cli.setExecutionExceptionHandler((e, line, parsed) -> {
            if (e instanceof IllegalArgumentException) {
                err.println("bench: " + e.getMessage());
                return 2;
            }
            throw e;
        });
        return cli.execute(args);
    }

    /** Whole numbers of at least some minimum, the message naming it. */
    public abstract static class AtLeast implements ITypeConverter<Integer> {
        private final int min;

        protected AtLeast(int min) {
            this.min = min;
        }

        @Override
        public Integer convert(String value) {
            try {
                int v = Integer.parseInt(value.trim());
                if (v >= min) {
                    return v;
                }
            } catch (NumberFormatException e) {
                // fall through to the message
            }
            throw new TypeConversionException("'" + value + "' is not a whole number >= " + min);
        }
    }

    /** Whole numbers {@code >= 1} (sizes, heads, threads...). */
    public static final class Positive extends AtLeast {
        public Positive() {
            super(1);
        }
    }

    /** Whole numbers {@code >= 0} (counts where 0 means never). */
    public static final class NonNegative extends AtLeast {
        public NonNegative() {
            super(0);
        }
    }
}
