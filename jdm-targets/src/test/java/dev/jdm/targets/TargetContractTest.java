package dev.jdm.targets;

import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.io.BlockDeviceDataContract;
import dev.jdm.core.io.BlockDeviceReadContract;
import dev.jdm.core.io.BlockDeviceSparseContract;
import dev.jdm.core.testing.TestFiles;
import dev.jdm.core.testing.TestPattern;
import org.junit.jupiter.api.Nested;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * The block-device contract through a real mapped device, built from a table line on sparse backing
 * files, for every target that holds data. Each nested class names its table; what a target does not
 * meet is in its {@code exemptions()} with the kernel behaviour behind it, and still runs (it must fail).
 * Linear and striped run the sparse contract in their own classes.
 */
class TargetContractTest {
    private static final String KEY64 = "00112233445566778899aabbccddeeff".repeat(4);
    private static final String KEY32 = "0f1e2d3c4b5a69788796a5b4c3d2e1f0".repeat(2);

    /** An engine whose devices are all removed, forcibly and top first, after the test. */
    private static DeviceMapper engine(java.util.function.Function<AutoCloseable, AutoCloseable> closeAfterTest) {
        DeviceMapper dm = DeviceMapper.create();
        closeAfterTest.apply(() -> {
            dm.removeAll(true);
            dm.close();
        });
        return dm;
    }

    /** A data-half fixture from a table over files made in the test's folder. */
    private abstract static class Tabled extends BlockDeviceDataContract {
        DeviceMapper dm;

        /** The device's table; {@code dir} is there for its backing files. */
        abstract String table(long sectors) throws Exception;

        @Override
        protected BlockDevice create(long size) throws Exception {
            dm = engine(this::closeAfterTest);
            dm.create("t", null, table(size >> 9), false);
            return dm.device("t");
        }

        Path file(String name, long bytes) throws Exception {
            return TestFiles.sparse(dir, name, bytes);
        }
    }

    // ---- crypt ----------------------------------------------------------------------------------------

    /** Shared by both crypt fixtures. */
    private static final Map<String, String> CRYPT_EXEMPTIONS = Map.of("freshDeviceReadsZeroes",
            "the kernel's dm-crypt decrypts whatever the backing device holds: zeroes underneath read as noise, not zeroes");

    @Nested
    class CryptXtsPlain64 extends Tabled {
        @Override
        protected Map<String, String> exemptions() {
            return CRYPT_EXEMPTIONS;
        }

        @Override
        String table(long sectors) throws Exception {
            return "0 " + sectors + " crypt aes-xts-plain64 " + KEY64 + " 0 " + file("c.img", SIZE) + " 0";
        }

        @Override
        protected int ioUnit() {
            return 512;
        }
    }

    @Nested
    class CryptCbcEssivSector4096 extends Tabled {
        @Override
        protected Map<String, String> exemptions() {
            return CRYPT_EXEMPTIONS;
        }

        @Override
        String table(long sectors) throws Exception {
            return "0 " + sectors + " crypt aes-cbc-essiv:sha256 " + KEY32 + " 0 "
                    + file("c.img", SIZE + (1 << 20)) + " 2048 2 allow_discards sector_size:4096";
        }

        @Override
        protected int ioUnit() {
            return 4096;
        }
    }

    // ---- thin -----------------------------------------------------------------------------------------

    @Nested
    class ThinOverAPool extends BlockDeviceSparseContract {
        @Override
        protected Map<String, String> exemptions() {
            return Map.of(
                    "allocationMatchesTheWrittenLayoutExactly", "the kernel's dm-thin provisions whole pool blocks"
                            + " (64 KiB here): a 4 KiB write maps, and reports as data, its whole block",
                    "writeZeroesWithUnmapOfWholeBlocksLeavesAHole", "the kernel's dm-thin takes no WRITE_ZEROES"
                            + " (num_write_zeroes_bios is 0): the block layer writes zero pages, which stay mapped");
        }

        @Override
        protected BlockDevice create(long size) throws Exception {
            DeviceMapper dm = engine(this::closeAfterTest);
            Path meta = TestFiles.sparse(dir, "meta", 4L << 20);
            Path data = TestFiles.sparse(dir, "data", 2 * size);
            dm.create("pool", null, "0 " + (2 * size >> 9) + " thin-pool " + meta + " " + data + " 128 0", false);
            dm.message("pool", 0, List.of("create_thin", "0"));
            dm.create("thin", null, "0 " + (size >> 9) + " thin /dev/mapper/pool 0", false);
            return dm.device("thin");
        }
    }

    // ---- integrity ------------------------------------------------------------------------------------

    /**
     * integrity in one mode over a file large enough for the tags and the journal, wiped through the
     * device as {@code integritysetup format} does: the kernel's dm-integrity formats only its superblock
     * and journal, so a never-written sector has no valid tag and reads fail with EILSEQ until it is written.
     */
    private abstract static class Integrity extends Tabled {
        abstract String mode();

        @Override
        protected BlockDevice create(long size) throws Exception {
            BlockDevice wiped = super.create(size);
            wiped.writeZeroes(0, size, false);
            return wiped;
        }

        @Override
        String table(long sectors) throws Exception {
            return "0 " + sectors + " integrity " + file("i.img", SIZE + (2 << 20)) + " 0 4 "
                    + mode() + " 1 internal_hash:crc32c";
        }

        @Override
        protected int ioUnit() {
            return 512;
        }
    }

    @Nested
    class IntegrityJournal extends Integrity {
        @Override
        String mode() {
            return "J";
        }
    }

    @Nested
    class IntegrityBitmap extends Integrity {
        @Override
        String mode() {
            return "B";
        }
    }

    @Nested
    class IntegrityDirect extends Integrity {
        @Override
        String mode() {
            return "D";
        }
    }

    /** Recovery mode is read-only (the kernel refuses writes in it): its content is written in J mode first. */
    @Nested
    class IntegrityRecoveryReads extends BlockDeviceReadContract {
        private final byte[] content = TestPattern.pattern((int) SIZE, 31);

        @Override
        protected BlockDevice create(long size) throws Exception {
            Path img = TestFiles.sparse(dir, "i.img", size + (2 << 20));
            try (DeviceMapper writer = DeviceMapper.create()) {
                writer.create("i", null, "0 " + (size >> 9) + " integrity " + img + " 0 4 J 1 internal_hash:crc32c", false);
                writer.device("i").write(0, ByteBuffer.wrap(content), true);
                writer.removeAll(true);
            }
            DeviceMapper dm = engine(this::closeAfterTest);
            dm.create("r", null, "0 " + (size >> 9) + " integrity " + img + " 0 4 R 1 internal_hash:crc32c", true);
            return dm.device("r");
        }

        @Override
        protected byte[] content() {
            return content;
        }

        @Override
        protected int ioUnit() {
            return 512;
        }
    }

    // ---- snapshot -------------------------------------------------------------------------------------

    /** A persistent snapshot of an empty origin: a first write to a chunk is a copy-on-write, later ones overwrite the COW (64 KiB chunks: each new chunk is one synchronous metadata commit). */
    @Nested
    class SnapshotOfAFile extends BlockDeviceDataContract {
        @Override
        protected BlockDevice create(long size) throws Exception {
            DeviceMapper dm = engine(this::closeAfterTest);
            Path origin = TestFiles.sparse(dir, "origin.img", size);
            Path cow = TestFiles.sparse(dir, "cow.img", 2 * size + (64 << 10));
            dm.create("snap", null, "0 " + (size >> 9) + " snapshot " + origin + " " + cow + " P 128", false);
            return dm.device("snap");
        }
    }

    /** An origin with two snapshots of different chunk sizes: every first write to a chunk copies it twice. */
    @Nested
    class SnapshotOrigin extends BlockDeviceDataContract {
        @Override
        protected BlockDevice create(long size) throws Exception {
            DeviceMapper dm = engine(this::closeAfterTest);
            Path origin = TestFiles.sparse(dir, "origin.img", size);
            dm.create("base", null, "0 " + (size >> 9) + " snapshot-origin " + origin, false);
            for (String chunk : new String[] {"8", "32"}) {
                Path cow = TestFiles.sparse(dir, "cow" + chunk + ".img", 2 * size + (64 << 10));
                dm.create("snap" + chunk, null, "0 " + (size >> 9) + " snapshot " + origin + " " + cow + " N " + chunk, false);
            }
            return dm.device("base");
        }
    }

    // ---- pass-through targets -------------------------------------------------------------------------

    @Nested
    class DelayWithoutDelay extends BlockDeviceSparseContract {
        @Override
        protected BlockDevice create(long size) throws Exception {
            DeviceMapper dm = engine(this::closeAfterTest);
            dm.create("d", null, "0 " + (size >> 9) + " delay " + TestFiles.sparse(dir, "d.img", size) + " 0 0", false);
            return dm.device("d");
        }
    }

    /** An up interval of an hour: the whole test runs while the device is up. */
    @Nested
    class FlakeyWhileUp extends BlockDeviceSparseContract {
        @Override
        protected BlockDevice create(long size) throws Exception {
            DeviceMapper dm = engine(this::closeAfterTest);
            dm.create("f", null, "0 " + (size >> 9) + " flakey " + TestFiles.sparse(dir, "f.img", size) + " 0 3600 1", false);
            return dm.device("f");
        }
    }

    /** The kernel's log entries are in sectors, so byte-unaligned writes are refused. */
    @Nested
    class LogWrites extends BlockDeviceSparseContract {
        @Override
        protected int ioUnit() {
            return 512;
        }

        @Override
        protected BlockDevice create(long size) throws Exception {
            DeviceMapper dm = engine(this::closeAfterTest);
            dm.create("lw", null, "0 " + (size >> 9) + " log-writes " + TestFiles.sparse(dir, "data.img", size) + " "
                    + TestFiles.sparse(dir, "log.img", 64L << 20), false);
            return dm.device("lw");
        }
    }
}
