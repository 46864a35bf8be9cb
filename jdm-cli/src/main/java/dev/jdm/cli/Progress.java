package dev.jdm.cli;

import java.io.PrintStream;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The progress line of long commands, on stderr and only when stderr is a terminal (scripts and
 * pipes see nothing). A known total draws a bar with a percentage; an unknown one (-1) shows the
 * time spent, for work that reports no steps (a PBKDF benchmark).
 */
final class Progress implements AutoCloseable {
    private static final int BAR_WIDTH = 30;
    private static final long REDRAW_NANOS = 200_000_000L;

    private final String label;
    private final long total;
    private final PrintStream err;
    private final boolean drawing;
    private final long startNanos = System.nanoTime();
    private final AtomicLong done = new AtomicLong();
    private final Thread ticker;

    private Progress(String label, long total, PrintStream err, boolean drawing) {
        this.label = label;
        this.total = total;
        this.err = err;
        this.drawing = drawing;
        // A ticker, not the worker, redraws: the worker may be inside a library call for seconds.
        this.ticker = drawing ? Thread.ofVirtual().start(this::tick) : null;
    }

    /** A progress line for {@code label}; {@code total} in any unit, or -1 when unknown. */
    static Progress start(String label, long total) {
        return new Progress(label, total, System.err, stderrIsTerminal());
    }

    /** Sets how much is done, in the unit of the total. */
    void update(long doneSoFar) {
        done.set(doneSoFar);
    }

    private void tick() {
        try {
            while (!Thread.currentThread().isInterrupted()) {
                draw(false);
                Thread.sleep(REDRAW_NANOS / 1_000_000);
            }
        } catch (InterruptedException e) {
            // Closed.
        }
    }

    private synchronized void draw(boolean last) {
        long seconds = (System.nanoTime() - startNanos) / 1_000_000_000L;
        StringBuilder line = new StringBuilder("\r").append(label).append(' ');
        if (total > 0) {
            long d = Math.min(done.get(), total);
            int filled = (int) (d * BAR_WIDTH / total);
            line.append('[').append("#".repeat(filled)).append(" ".repeat(BAR_WIDTH - filled)).append("] ")
                    .append(d * 100 / total).append('%');
        } else {
            line.append(last ? "done" : "...");
        }
        // Erase to the end of the line: the previous drawing may have been longer.
        line.append(' ').append(seconds).append(" s\u001b[K");
        err.print(line);
        if (last) {
            err.println();
        }
        err.flush();
    }

    @Override
    public void close() {
        if (drawing) {
            ticker.interrupt();
            try {
                ticker.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            draw(true);
        }
    }

    private static boolean stderrIsTerminal() {
        try {
            MethodHandle isatty = Linker.nativeLinker().downcallHandle(
                    Linker.nativeLinker().defaultLookup().find("isatty").orElseThrow(),
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
            return (int) isatty.invokeExact(2) == 1;
        } catch (Throwable e) {
            // No way to tell: stay quiet, as for a pipe.
            return false;
        }
    }
}
