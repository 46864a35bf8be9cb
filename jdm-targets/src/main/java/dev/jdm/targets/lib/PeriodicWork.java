package dev.jdm.targets.lib;

import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Work a target does in the background on a timer (the kernel's do_waker / commit timers): every period
 * while started ({@link #start}, thin's commit every second), once a period after it is asked for unless
 * already pending ({@link #schedule}, integrity's autocommit and bitmap flush), or at once ({@link #runNow}).
 * {@link #stop} on suspend, {@link #close} when the target goes.
 *
 * <p>Runs never overlap, and each runs on a virtual thread of its own: the work may block on the target's
 * locks and I/O. {@link #stop} does not wait for a run in progress, because callers stop from under the very
 * lock the work takes; the work checks the target's own state (suspended, failed) when it gets the lock.
 * All instances share one timer thread, which only starts runs.
 */
public final class PeriodicWork implements AutoCloseable {
    private static final ScheduledExecutorService TIMER = Executors.newSingleThreadScheduledExecutor(
            Thread.ofPlatform().name("jdm-periodic-work").daemon().factory());

    private final String name;
    private final long periodMillis;
    private final Runnable work;
    private final ReentrantLock running = new ReentrantLock();
    private ScheduledFuture<?> pending; // guarded by this
    private boolean periodic;
    private boolean closed;

    /**
     * {@code work} should catch and report its own failures: a thrown exception is lost with its run. A period
     * of 0 makes {@link #schedule} run at once; {@link #start} needs a positive one.
     */
    public PeriodicWork(String name, long periodMillis, Runnable work) {
        if (periodMillis < 0) {
            throw new IllegalArgumentException("the period must not be negative: " + periodMillis + " ms");
        }
        this.name = name;
        this.periodMillis = periodMillis;
        this.work = work;
    }

    /** Runs the work every period from now until {@link #stop}; does nothing if already started. */
    public synchronized void start() {
        if (periodMillis == 0) {
            throw new IllegalStateException(name + ": periodic work needs a positive period");
        }
        if (!periodic && !closed) {
            periodic = true;
            arm(periodMillis);
        }
    }

    /** Runs the work once a period from now, unless a run is already pending. */
    public synchronized void schedule() {
        arm(periodMillis);
    }

    /** Runs the work as soon as possible, in the background (a pending run is brought forward). */
    public synchronized void runNow() {
        if (pending != null && pending.cancel(false)) {
            pending = null;
        }
        arm(0);
    }

    /** Cancels pending runs and periodic running; a run in progress finishes. */
    public synchronized void stop() {
        periodic = false;
        if (pending != null) {
            pending.cancel(false);
            pending = null;
        }
    }

    /**
     * Stops for good, waiting for a run in progress to end (so the work's resources can go next): later calls
     * to start, schedule or runNow do nothing. Not to be called under a lock the work takes.
     */
    @Override
    public void close() {
        synchronized (this) {
            stop();
            closed = true;
        }
        running.lock();
        running.unlock();
    }

    private void arm(long delayMillis) {
        if (pending == null && !closed) {
            pending = TIMER.schedule(() -> Thread.ofVirtual().name(name).start(this::fire), delayMillis,
                    TimeUnit.MILLISECONDS);
        }
    }

    private void fire() {
        running.lock();
        try {
            synchronized (this) {
                pending = null;
                if (closed) {
                    return;
                }
            }
            work.run();
        } finally {
            running.unlock();
            synchronized (this) {
                if (periodic) {
                    arm(periodMillis);
                }
            }
        }
    }
}
