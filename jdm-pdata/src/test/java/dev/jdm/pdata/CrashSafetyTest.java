package dev.jdm.pdata;

import dev.jdm.core.testing.MemoryDevice;
import dev.jdm.core.testing.PowerCutDevice;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Cuts the power at every write of a commit: after reopening, the metadata is exactly the previous or the new
 * transaction and thin_check accepts it.
 */
class CrashSafetyTest {
    private static final long SIZE = 8L << 20;

    @TempDir
    Path dir;

    private static MemoryDevice copyOf(byte[] bytes) {
        MemoryDevice d = new MemoryDevice(bytes.length);
        System.arraycopy(bytes, 0, d.bytes(), 0, bytes.length);
        return d;
    }

    /** The transaction under test: the same operations from the same state, so the same writes. */
    private static void transaction(ThinMetadata md) throws Exception {
        ThinToolsConformanceTest.randomOperations(md, new Random(99), 200);
        md.setTransactionId(md.transactionId(), md.transactionId() + 1);
        md.commit();
    }

    @ParameterizedTest(name = "lose unflushed writes: {0}")
    @ValueSource(booleans = {false, true})
    void everyCutLeavesTheOldOrTheNewTransaction(boolean loseUnflushed) throws Exception {
        MemoryDevice base = new MemoryDevice(SIZE);
        ThinTools.Dump before;
        try (ThinMetadata md = ThinMetadata.format(base, 128, 50_000, 64)) {
            ThinToolsConformanceTest.randomOperations(md, new Random(98), 800);
            md.commit();
            before = ThinView.of(md);
        }
        MemoryDevice dry = copyOf(base.bytes());
        ThinTools.Dump after;
        int totalWrites;
        PowerCutDevice counting = new PowerCutDevice(dry, Integer.MAX_VALUE, false);
        try (ThinMetadata md = ThinMetadata.open(counting, 64)) {
            transaction(md);
            after = ThinView.of(md);
            totalWrites = counting.writes();
        }
        assertTrue(totalWrites > 20, "the transaction writes " + totalWrites + " blocks");
        int sawOld = 0;
        int sawNew = 0;
        Path file = dir.resolve("cut");
        for (int cut = 0; cut <= totalWrites; cut++) {
            MemoryDevice disk = copyOf(base.bytes());
            try (ThinMetadata md = ThinMetadata.open(new PowerCutDevice(disk, cut, loseUnflushed), 64)) {
                transaction(md);
                assertEquals(totalWrites, cut, "only the uncut run completes");
            } catch (PowerCutDevice.PowerCut expected) {
                // the writer died here
            }
            try (ThinMetadata md = ThinMetadata.open(disk, 64)) {
                ThinTools.Dump seen = ThinView.of(md);
                if (seen.equals(before)) {
                    sawOld++;
                } else {
                    assertEquals(after, seen, "after a cut at write " + cut);
                    sawNew++;
                }
                ThinView.assertDataRefcounts(md);
            }
            Files.write(file, disk.bytes());
            ThinTools.Result check = ThinTools.check(file);
            assertEquals(0, check.exit(), "thin_check after a cut at write " + cut + ": " + check.stderr());
        }
        assertEquals(totalWrites, sawOld, "only the last write (the superblock) publishes the new transaction");
        assertEquals(1, sawNew);
    }
}
