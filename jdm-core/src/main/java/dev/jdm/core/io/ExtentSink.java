package dev.jdm.core.io;

/**
 * Receives the allocation of consecutive ranges, the way NBD's base:allocation context describes
 * them: {@link #HOLE} means unallocated, {@link #ZERO} means reads return zeroes.
 */
@FunctionalInterface
public interface ExtentSink {
    int HOLE = 1;
    int ZERO = 2;

    void extent(long length, int flags);
}
