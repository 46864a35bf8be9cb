package dev.jdm.pdata;

import java.io.IOException;
import java.util.function.LongConsumer;

/** dm-bitset: an array of le64 words; bit i is bit i % 64 (least significant first) of word i / 64. */
public final class DmBitset {
    private final DmArray words;

    public DmBitset(TransactionManager tm) {
        this.words = new DmArray(tm, ValueType.LE64);
    }

    /** Bits per array block (32576). */
    public int bitsPerBlock() {
        return words.entriesPerBlock() * 64;
    }

    public long create(long nrBits, boolean value) throws IOException {
        return words.create((nrBits + 63) / 64, BTree.le64(value ? -1L : 0L));
    }

    public boolean test(long root, long bit) throws IOException {
        return (BTree.le64(words.get(root, bit / 64)) >>> (bit % 64) & 1) != 0;
    }

    /** Sets or clears one bit; returns the new root. */
    public long set(long root, long bit, boolean value) throws IOException {
        long word = BTree.le64(words.get(root, bit / 64));
        long changed = value ? word | 1L << (bit % 64) : word & ~(1L << (bit % 64));
        return changed == word ? root : words.set(root, bit / 64, BTree.le64(changed));
    }

    /** Visits the set bits below nrBits in order. */
    public void setBits(long root, long nrBits, LongConsumer sink) throws IOException {
        words.walk(root, (index, v) -> {
            long word = BTree.le64(v);
            while (word != 0) {
                long bit = index * 64 + Long.numberOfTrailingZeros(word);
                if (bit < nrBits) {
                    sink.accept(bit);
                }
                word &= word - 1;
            }
        });
    }

    public void delete(long root) throws IOException {
        words.delete(root);
    }
}
