package dev.jdm.targets.multipath;

/**
 * The kernel's dm_multipath module parameter {@code queue_if_no_path_timeout_secs}: how long, in seconds, a
 * multipath device with {@code queue_if_no_path} keeps I/O waiting once it has no usable path. When it runs out the
 * waiting I/O fails with EIO and queue_if_no_path is switched off, as the kernel does. 0, the default, waits forever.
 * Like the module parameter it holds for every multipath device of the process (every engine) and is read when a
 * device starts waiting. {@code jdm daemon --no-path-timeout} sets it.
 */
public final class MultipathQueueTimeout {
    private static volatile int seconds;

    private MultipathQueueTimeout() {
    }

    public static int seconds() {
        return seconds;
    }

    /** Sets the timeout; an IllegalArgumentException below 0. */
    public static void seconds(int seconds) {
        if (seconds < 0) {
            throw new IllegalArgumentException("queue_if_no_path timeout must be 0 or more seconds: " + seconds);
        }
        MultipathQueueTimeout.seconds = seconds;
    }
}
