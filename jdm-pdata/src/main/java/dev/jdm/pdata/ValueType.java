package dev.jdm.pdata;

import java.io.IOException;

/**
 * What a btree leaf stores: its size, and how a copy gains or loses a reference to what the value points at
 * (a data block, a subtree). Shadowing a shared leaf calls {@link #inc} on every value; dropping the last
 * reference to a leaf, or overwriting or removing a value, calls {@link #dec}.
 */
public interface ValueType {
    int size();

    default void inc(byte[] value) throws IOException {
    }

    default void dec(byte[] value) throws IOException {
    }

    /** Plain little-endian u64 values that reference nothing. */
    ValueType LE64 = () -> 8;
}
