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

    /** Drops one reference to a metadata block a value points at. */
    @FunctionalInterface
    interface Release {
        void release(long block) throws IOException;
    }

    /**
     * Little-endian u64 references to metadata blocks (subtree roots, array blocks): a copy counts one more
     * reference in the metadata space map, a dropped value lets {@code release} drop one.
     */
    static ValueType blockReference(TransactionManager tm, Release release) {
        return new ValueType() {
            @Override
            public int size() {
                return 8;
            }

            @Override
            public void inc(byte[] v) {
                tm.inc(BTree.le64(v));
            }

            @Override
            public void dec(byte[] v) throws IOException {
                release.release(BTree.le64(v));
            }
        };
    }
}
