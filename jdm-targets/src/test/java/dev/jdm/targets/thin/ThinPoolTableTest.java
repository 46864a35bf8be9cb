package dev.jdm.targets.thin;

import dev.jdm.core.DmException;
import dev.jdm.core.Errno;
import dev.jdm.core.engine.MappedDevice;
import dev.jdm.core.io.FileBlockDevice;
import dev.jdm.targets.thin.metadata.ThinMetadata;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;

import static dev.jdm.targets.thin.ThinFixture.BLOCK;
import static dev.jdm.core.testing.TestPattern.pattern;
import static dev.jdm.targets.thin.ThinFixture.read;
import static dev.jdm.targets.thin.ThinFixture.write;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ThinPoolTableTest {
    @TempDir
    Path dir;

    private DmException refusedCreate(ThinFixture f, String table) {
        DmException e = assertThrows(DmException.class, () -> f.dm.create("pool", null, table, false));
        assertEquals(List.of(), f.dm.names(), "a refused table leaves no device behind");
        return e;
    }

    private String pool(ThinFixture f, String args) {
        return "0 " + f.dataSectors() + " thin-pool " + args;
    }

    @Test
    void refusesBadTablesWithTheKernelsReasonsAndFormatsNothing() throws Exception {
        try (ThinFixture f = new ThinFixture(dir, 64)) {
            String m = f.metadata.toString();
            String d = f.data.toString();
            assertEquals("table line 1: thin-pool: Invalid argument count: expected <metadata dev> <data dev> "
                    + "<data block size> <low water mark> [<#features> <feature>*], got 3",
                    refusedCreate(f, pool(f, m + " " + d + " 128")).getMessage());
            assertEquals("table line 1: thin-pool: argument 2 (\"" + m + "\"): Error setting metadata or data device: "
                    + "the metadata and data devices must differ", refusedCreate(f, pool(f, m + " " + m + " 128 0")).getMessage());
            for (String bs : List.of("64", "192", "0", "x", "2097280", "-128")) {
                assertEquals("table line 1: thin-pool: argument 3 (\"" + bs + "\"): Invalid block size: expected a "
                        + "multiple of 128 sectors in 128..2097152", refusedCreate(f, pool(f, m + " " + d + " " + bs + " 0")).getMessage());
            }
            assertEquals("table line 1: thin-pool: argument 4 (\"1x\"): Invalid low water mark",
                    refusedCreate(f, pool(f, m + " " + d + " 128 1x")).getMessage());
            assertEquals("table line 1: thin-pool: argument 5 (\"5\"): Invalid number of pool feature arguments",
                    refusedCreate(f, pool(f, m + " " + d + " 128 0 5 a b c d e")).getMessage());
            assertEquals("table line 1: thin-pool: argument 5 (\"2\"): Invalid number of pool feature arguments",
                    refusedCreate(f, pool(f, m + " " + d + " 128 0 2 read_only")).getMessage());
            assertEquals("table line 1: thin-pool: argument 5 (\"x\"): Invalid number of pool feature arguments",
                    refusedCreate(f, pool(f, m + " " + d + " 128 0 x")).getMessage());
            assertEquals("table line 1: thin-pool: argument 7 (\"zero_new_blocks\"): Unrecognised pool feature requested",
                    refusedCreate(f, pool(f, m + " " + d + " 128 0 2 skip_block_zeroing zero_new_blocks")).getMessage());
            DmException ro = refusedCreate(f, pool(f, m + " " + d + " 128 0 1 read_only"));
            assertEquals(Errno.EPERM, ro.errno());
            assertEquals("table line 1: thin-pool: Error creating metadata object: the metadata device is not formatted "
                    + "and read_only forbids formatting it", ro.getMessage());
            assertTrue(ThinFixture.allZero(Files.readAllBytes(f.metadata)), "no refused table formatted the metadata");
            DmException tooLong = refusedCreate(f, "0 " + (f.dataSectors() + 128) + " thin-pool " + m + " " + d + " 128 0");
            assertTrue(tooLong.getMessage().contains("device too small for target"), tooLong.getMessage());
            DmException mixed = assertThrows(DmException.class, () -> f.dm.create("pool", null,
                    "0 128 thin-pool " + m + " " + d + " 128 0\n128 128 zero", false));
            assertEquals("table line 1: thin-pool must be the only target in its table", mixed.getMessage());
        }
    }

    @Test
    void featuresAreCaseInsensitiveAndPrintedInTheKernelsOrder() throws Exception {
        try (ThinFixture f = new ThinFixture(dir, 64)) {
            f.createPool("pool", 7, "ERROR_IF_NO_SPACE", "No_Discard_Passdown", "skip_block_zeroing");
            assertEquals(f.metadata + " " + f.data + " 128 7 3 skip_block_zeroing no_discard_passdown error_if_no_space ",
                    f.table("pool"));
            assertEquals("0 111/1024 0/64 - rw no_discard_passdown error_if_no_space - 256 ", f.status("pool"));
            f.dm.load("pool", f.poolTable(f.dataSectors(), 7, "READ_ONLY"), false);
            f.dm.resume("pool");
            assertEquals(f.metadata + " " + f.data + " 128 7 1 read_only ", f.table("pool"));
            assertEquals("0 111/1024 0/64 - ro discard_passdown queue_if_no_space - 256 ", f.status("pool"));
            DmException refused = assertThrows(DmException.class, () -> f.message("pool", "create_thin", "0"));
            assertEquals(Errno.EOPNOTSUPP, refused.errno());
            assertEquals("pool: unable to service pool target messages in READ_ONLY or FAIL mode", refused.getMessage());
            f.dm.load("pool", f.poolTable(f.dataSectors(), 7), false);
            f.dm.resume("pool");
            assertEquals("0 111/1024 0/64 - rw discard_passdown queue_if_no_space - 256 ", f.status("pool"));
        }
    }

    @Test
    void reloadKeepsTheOpenPoolAndRefusesOtherDevices() throws Exception {
        try (ThinFixture f = new ThinFixture(dir, 64)) {
            f.createPool("pool", 0);
            f.message("pool", "create_thin", "1");
            MappedDevice thin = f.createThin("pool", "thin", 1, 4096);
            byte[] data = pattern(BLOCK, 3);
            write(thin, 0, data);
            f.dm.load("pool", f.poolTable(f.dataSectors(), 4, "skip_block_zeroing"), false);
            f.dm.resume("pool");
            assertEquals(f.metadata + " " + f.data + " 128 4 1 skip_block_zeroing ", f.table("pool"));
            assertEquals("0 112/1024 1/64 - rw discard_passdown queue_if_no_space - 256 ", f.status("pool"));
            assertArrayEquals(data, read(thin, 0, BLOCK));
            write(thin, BLOCK, data);
            assertEquals("256 255", f.status("thin"));

            Path otherMeta = dev.jdm.core.testing.TestFiles.sparse(dir, "meta2", ThinFixture.METADATA_BYTES);
            DmException replace = assertThrows(DmException.class, () -> f.dm.load("pool",
                    "0 " + f.dataSectors() + " thin-pool " + otherMeta + " " + f.data + " 128 0", false));
            assertEquals("table line 1: thin-pool: different pool cannot replace a pool", replace.getMessage());
            DmException inUse = assertThrows(DmException.class, () -> f.dm.create("pool2", null,
                    "0 128 thin-pool " + f.metadata + " " + otherMeta + " 128 0", false));
            assertEquals(Errno.EBUSY, inUse.errno());
            assertEquals("table line 1: thin-pool: metadata device already in use by a pool", inUse.getMessage());

            DmException discard = assertThrows(DmException.class, () -> f.dm.load("pool",
                    f.poolTable(f.dataSectors(), 0, "ignore_discard"), false));
            assertEquals("table line 1: thin-pool: Discard support cannot be disabled once enabled", discard.getMessage());
        }
    }

    @Test
    void refusesMetadataItCannotUse() throws Exception {
        try (ThinFixture f = new ThinFixture(dir, 64)) {
            f.createPool("pool", 0);
            f.message("pool", "create_thin", "0");
            f.dm.remove("pool", false, false);
            byte[] formatted = Files.readAllBytes(f.metadata);

            DmException size = refusedCreate(f, "0 " + f.dataSectors() + " thin-pool " + f.metadata + " " + f.data + " 256 0");
            assertEquals("table line 1: thin-pool: Error creating metadata object: changing the data block size "
                    + "(from 128 to 256) is not supported", size.getMessage());
            DmException small = assertThrows(DmException.class, () -> f.dm.create("pool", null,
                    "0 " + (32 * 128) + " thin-pool " + f.metadata + " " + f.data + " 128 0", false));
            assertEquals(Errno.EINVAL, small.errno());
            assertEquals("pool: pool target (32 blocks) too small: expected 64", small.getMessage());
            assertArrayEquals(formatted, Files.readAllBytes(f.metadata), "refused tables leave the metadata as it was");

            corrupt(f.metadata, 32);
            DmException magic = refusedCreate(f, f.poolTable(f.dataSectors(), 0));
            assertTrue(magic.getMessage().startsWith("table line 1: thin-pool: Error creating metadata object: "),
                    magic.getMessage());
        }
    }

    @Test
    void metadataThatNeedsCheckingOpensReadOnlyAndDoesNotGrow() throws Exception {
        try (ThinFixture f = new ThinFixture(dir, 16)) {
            f.createPool("pool", 0);
            f.message("pool", "create_thin", "0");
            f.dm.remove("pool", false, false);
            try (ThinMetadata md = ThinMetadata.open(FileBlockDevice.open(f.metadata, FileBlockDevice.Options.READ_WRITE), 64)) {
                md.setNeedsCheck();
            }
            try (var r = new java.io.RandomAccessFile(f.data.toFile(), "rw")) {
                r.setLength(32L * BLOCK);
            }
            f.createPool("pool", 0);
            assertEquals("0 112/1024 0/16 - ro discard_passdown queue_if_no_space needs_check 256 ", f.status("pool"),
                    "read-only, and the data space map was not grown to the 32 blocks of the table");
            assertEquals(Errno.EOPNOTSUPP, assertThrows(DmException.class, () -> f.message("pool", "create_thin", "1")).errno());
            MappedDevice thin = f.createThin("pool", "thin", 0, 1024);
            assertEquals(Errno.EIO, assertThrows(dev.jdm.core.BlockIoException.class, () -> write(thin, 0, pattern(512, 1))).errno());
            assertTrue(ThinFixture.allZero(read(thin, 0, BLOCK)));
        }
    }

    private static void corrupt(Path file, long offset) throws IOException {
        try (var ch = java.nio.channels.FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.write(java.nio.ByteBuffer.wrap(new byte[] {0x55}), offset);
        }
    }

    /** Pools are found per engine: two engines in one JVM with devices of the same names keep their own pools. */
    @Test
    void twoEnginesKeepTheirOwnPoolsUnderTheSameNames() throws Exception {
        ThinFixture one = new ThinFixture(Files.createDirectories(dir.resolve("one")), 16);
        try (ThinFixture two = new ThinFixture(Files.createDirectories(dir.resolve("two")), 16)) {
            byte[] a = pattern(BLOCK, 61);
            byte[] b = pattern(2 * BLOCK, 62);
            for (ThinFixture f : List.of(one, two)) {
                f.createPool("pool", 0);
                f.message("pool", "create_thin", "0");
            }
            write(one.createThin("pool", "thin", 0, 64 * 128), 0, a);
            write(two.createThin("pool", "thin", 0, 64 * 128), BLOCK, b);
            assertEquals("128 127", one.status("thin"));
            assertEquals("256 383", two.status("thin"));

            one.close();
            assertArrayEquals(b, read(two.dm.device("thin"), BLOCK, 2 * BLOCK));
            two.message("pool", "create_thin", "1");
            assertEquals("256 383", two.status("thin"), "the other engine's pool lives on after the first engine closed");
        } finally {
            one.close();
        }
    }
}
