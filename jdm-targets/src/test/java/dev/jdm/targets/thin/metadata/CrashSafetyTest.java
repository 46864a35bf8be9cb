package dev.jdm.targets.thin.metadata;

import dev.jdm.core.testing.MemoryDevice;
import dev.jdm.pdata.CommitCrashCheck;
import dev.jdm.pdata.PdataTools;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

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

    @ParameterizedTest(name = "lose unflushed writes: {0}")
    @ValueSource(booleans = {false, true})
    void everyCutLeavesTheOldOrTheNewTransaction(boolean loseUnflushed) throws Exception {
        MemoryDevice base = new MemoryDevice(SIZE);
        try (ThinMetadata md = ThinMetadata.format(base, 128, 50_000, 64)) {
            ThinToolsConformanceTest.randomOperations(md, new Random(98), 800);
            md.commit();
        }
        int writes = CommitCrashCheck.everyCut(base.bytes(), loseUnflushed, device -> {
            try (ThinMetadata md = ThinMetadata.open(device, 64)) {
                // the same operations from the same state, so the same writes
                ThinToolsConformanceTest.randomOperations(md, new Random(99), 200);
                md.setTransactionId(md.transactionId(), md.transactionId() + 1);
                md.commit();
            }
        }, this::checkedView);
        assertTrue(writes > 20, "the transaction writes " + writes + " blocks");
    }

    /** The disk in thin_dump's terms, once its data reference counts are recounted and thin_check accepts it. */
    private ThinTools.Dump checkedView(MemoryDevice disk, String when) throws Exception {
        ThinTools.Dump seen;
        try (ThinMetadata md = ThinMetadata.open(disk, 64)) {
            seen = ThinView.of(md);
            ThinView.assertDataRefcounts(md);
        }
        Path file = dir.resolve("cut");
        Files.write(file, disk.bytes());
        PdataTools.Result check = ThinTools.check(file);
        assertEquals(0, check.exit(), "thin_check " + when + ": " + check.stderr());
        return seen;
    }
}
