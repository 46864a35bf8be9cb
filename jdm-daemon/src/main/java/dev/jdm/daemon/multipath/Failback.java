package dev.jdm.daemon.multipath;

import java.time.Duration;
import java.util.Locale;

/**
 * multipath.conf's {@code failback}: when the checker switches a device back to its first (highest-priority) group
 * with a usable path. {@code delay} is the wait of the SECONDS form and zero otherwise.
 */
public record Failback(Kind kind, Duration delay) {
    public enum Kind {
        /** Never: a user switches with {@code jdm message DEV 0 switch_group N}. */
        MANUAL,
        /** As soon as the group has a usable path. */
        IMMEDIATE,
        /** Only when the path that came back is the first usable one of its group. */
        FOLLOWOVER,
        /** After {@code delay}, if no path of the device failed meanwhile. */
        DEFERRED
    }

    public static final Failback MANUAL = new Failback(Kind.MANUAL, Duration.ZERO);

    /** {@code immediate}, {@code manual}, {@code followover} or a number of seconds (0 never switches, as in multipathd). */
    public static Failback parse(String text) {
        String t = text.strip().toLowerCase(Locale.ROOT);
        switch (t) {
            case "manual":
                return MANUAL;
            case "immediate":
                return new Failback(Kind.IMMEDIATE, Duration.ZERO);
            case "followover":
                return new Failback(Kind.FOLLOWOVER, Duration.ZERO);
            default:
                break;
        }
        long seconds;
        try {
            seconds = Long.parseLong(t);
        } catch (NumberFormatException e) {
            seconds = -1;
        }
        if (seconds < 0) {
            throw new IllegalArgumentException("failback must be immediate, manual, followover or a number of seconds, not \"" + text + "\"");
        }
        return seconds == 0 ? MANUAL : new Failback(Kind.DEFERRED, Duration.ofSeconds(seconds));
    }

    @Override
    public String toString() {
        return kind == Kind.DEFERRED ? Long.toString(delay.toSeconds()) : kind.name().toLowerCase(Locale.ROOT);
    }
}
