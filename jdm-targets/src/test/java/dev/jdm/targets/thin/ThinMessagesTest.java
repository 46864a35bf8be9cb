package dev.jdm.targets.thin;

import dev.jdm.core.DmException;
import dev.jdm.core.Errno;
import dev.jdm.core.io.FileBlockDevice;
import dev.jdm.targets.thin.metadata.ThinMetadata;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class ThinMessagesTest {
    @TempDir
    Path dir;

    private static void refused(ThinFixture f, Errno errno, String text, String... argv) {
        DmException e = assertThrows(DmException.class, () -> f.message("pool", argv));
        assertEquals(errno, e.errno(), e.getMessage());
        assertEquals(text, e.getMessage());
    }

    /** What a fresh reader of the metadata file sees: only committed state. */
    private ThinMetadata committed(ThinFixture f) throws Exception {
        Path copy = dir.resolve("copy-" + System.nanoTime());
        Files.copy(f.metadata, copy);
        return ThinMetadata.open(FileBlockDevice.open(copy, FileBlockDevice.Options.READ_ONLY), 64);
    }

    @Test
    void messagesTakeTheKernelsArgumentsAndCommit() throws Exception {
        try (ThinFixture f = new ThinFixture(dir, 64)) {
            f.createPool("pool", 0);
            f.message("pool", "create_thin", "0");
            f.message("pool", "CREATE_THIN", "+1");
            f.message("pool", "create_snap", "2", "1");
            f.message("pool", "Create_Snap", "16777215", "2");
            f.message("pool", "set_transaction_id", "0", "18446744073709551615");
            f.message("pool", "delete", "0");
            try (ThinMetadata md = committed(f)) {
                assertEquals(Set.of(1L, 2L, 16777215L), md.devices().keySet());
                assertEquals(-1L, md.transactionId());
                assertEquals(2, md.time());
            }
            assertEquals("18446744073709551615 ", f.status("pool").substring(0, 21));
        }
    }

    @Test
    void refusalsNameTheKernelsReasonAndChangeNothing() throws Exception {
        try (ThinFixture f = new ThinFixture(dir, 64)) {
            f.createPool("pool", 0);
            f.message("pool", "create_thin", "1");
            f.createThin("pool", "thin", 1, 1024);
            String before = f.status("pool");
            refused(f, Errno.EINVAL, "Message received with 1 arguments instead of 2.", "create_thin");
            refused(f, Errno.EINVAL, "Message received with 3 arguments instead of 2.", "delete", "1", "2");
            refused(f, Errno.EINVAL, "Message received with 2 arguments instead of 1.", "reserve_metadata_snap", "x");
            refused(f, Errno.EINVAL, "Message received with invalid device id: 16777216", "create_thin", "16777216");
            refused(f, Errno.EINVAL, "Message received with invalid device id: 0x1", "create_thin", "0x1");
            refused(f, Errno.EINVAL, "Message received with invalid device id: -1", "create_snap", "-1", "1");
            refused(f, Errno.EEXIST, "Creation of new thinly-provisioned device with id 1 failed: thin device 1 already exists",
                    "create_thin", "1");
            refused(f, Errno.ENODATA, "Creation of new snapshot 2 of device 9 failed: thin device 9 does not exist",
                    "create_snap", "2", "9");
            refused(f, Errno.ENODATA, "Deletion of thin device 9 failed: thin device 9 does not exist", "delete", "9");
            refused(f, Errno.EBUSY, "Deletion of thin device 1 failed: the device is open", "delete", "1");
            refused(f, Errno.EINVAL, "set_transaction_id message: Unrecognised id x.", "set_transaction_id", "x", "1");
            refused(f, Errno.EINVAL, "set_transaction_id message: Unrecognised new id 18446744073709551616.",
                    "set_transaction_id", "0", "18446744073709551616");
            refused(f, Errno.EINVAL, "Failed to change transaction id from 3 to 4: transaction id is 0, not 3",
                    "set_transaction_id", "3", "4");
            refused(f, Errno.EINVAL, "release_metadata_snap message failed: No pool metadata snapshot found: nothing to release.",
                    "release_metadata_snap");
            refused(f, Errno.EINVAL, "Unrecognised thin pool target message received: frob", "frob", "1");
            assertEquals(before, f.status("pool"));
            try (ThinMetadata md = committed(f)) {
                assertEquals(Set.of(1L), md.devices().keySet());
                assertEquals(0, md.transactionId());
            }
        }
    }

    @Test
    void metadataSnapshotIsHeldAndReleased() throws Exception {
        try (ThinFixture f = new ThinFixture(dir, 64)) {
            f.createPool("pool", 0);
            f.message("pool", "create_thin", "1");
            f.message("pool", "reserve_metadata_snap");
            String held;
            try (ThinMetadata md = committed(f)) {
                held = Long.toString(md.metadataSnapshot());
            }
            String[] fields = f.status("pool").split(" ");
            assertEquals(held, fields[3]);
            refused(f, Errno.EBUSY, "reserve_metadata_snap message failed: Pool metadata snapshot already exists: "
                    + "release this before taking another.", "reserve_metadata_snap");
            f.message("pool", "release_metadata_snap");
            assertEquals("-", f.status("pool").split(" ")[3]);
        }
    }
}
