package dev.jdm.pdata;

import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.testing.MemoryDevice;
import dev.jdm.core.testing.PowerCutDevice;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

/**
 * Cuts the power at every write of one transaction ({@link PowerCutDevice}) and checks that the metadata then
 * reads back as exactly the state before it or after it, and that only the last write (the superblock)
 * publishes the new one. Public in the test-jar: each metadata format, beside its target, runs its own commit
 * through it.
 */
public final class CommitCrashCheck {
    /** Opens the metadata on {@code device}, changes it and commits; run several times, it must write the same. */
    @FunctionalInterface
    public interface Transaction {
        void run(BlockDevice device) throws Exception;
    }

    /** Opens what {@code disk} holds and returns it in comparable form, checking what it can on the way. */
    @FunctionalInterface
    public interface Reader<S> {
        S read(MemoryDevice disk, String when) throws Exception;
    }

    private CommitCrashCheck() {
    }

    /** Runs the check from the committed image {@code committed}; returns how many block writes the transaction made. */
    public static <S> int everyCut(byte[] committed, boolean loseUnflushed, Transaction transaction, Reader<S> reader)
            throws Exception {
        S before = reader.read(copyOf(committed), "before the transaction");
        MemoryDevice dry = copyOf(committed);
        PowerCutDevice counting = new PowerCutDevice(dry, Integer.MAX_VALUE, false);
        transaction.run(counting);
        int totalWrites = counting.writes();
        S after = reader.read(dry, "after the transaction");
        assertNotEquals(before, after, "the transaction changes what the metadata says");
        int sawOld = 0;
        int sawNew = 0;
        for (int cut = 0; cut <= totalWrites; cut++) {
            MemoryDevice disk = copyOf(committed);
            try {
                transaction.run(new PowerCutDevice(disk, cut, loseUnflushed));
                assertEquals(totalWrites, cut, "only the uncut run completes");
            } catch (PowerCutDevice.PowerCut expected) {
                // the writer died here
            }
            S seen = reader.read(disk, "after a cut at write " + cut);
            if (seen.equals(before)) {
                sawOld++;
            } else {
                assertEquals(after, seen, "after a cut at write " + cut);
                sawNew++;
            }
        }
        assertEquals(totalWrites, sawOld, "only the last write (the superblock) publishes the new transaction");
        assertEquals(1, sawNew);
        return totalWrites;
    }

    private static MemoryDevice copyOf(byte[] bytes) {
        MemoryDevice d = new MemoryDevice(bytes.length);
        System.arraycopy(bytes, 0, d.bytes(), 0, bytes.length);
        return d;
    }
}
