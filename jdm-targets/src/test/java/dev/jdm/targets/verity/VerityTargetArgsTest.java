package dev.jdm.targets.verity;

import dev.jdm.core.DmException;
import dev.jdm.core.engine.DeviceMapper;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/** Table lines the verity constructor refuses, with the exact message, and the table it prints back. */
class VerityTargetArgsTest {
    private static final String ROOT = "00".repeat(32);

    @TempDir
    Path dir;
    Path data;
    Path hash;

    @BeforeEach
    void files() throws Exception {
        data = dir.resolve("data.img");
        hash = dir.resolve("hash.img");
        for (Path p : new Path[]{data, hash}) {
            try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
                f.setLength(1 << 20);
            }
        }
    }

    private String line(String params) {
        return "0 2048 verity " + params;
    }

    private String error(String params) {
        try (DeviceMapper dm = DeviceMapper.create()) {
            return assertThrows(DmException.class, () -> dm.create("v", null, line(params), true)).getMessage();
        }
    }

    private String base() {
        return "1 " + data + " " + hash + " 4096 4096 256 1 sha256 " + ROOT + " 0a0b";
    }

    @Test
    void refusals() {
        assertEquals("table line 1: verity: Not enough arguments (<version> <data_dev> <hash_dev> <data_block_size> "
                + "<hash_block_size> <num_data_blocks> <hash_start_block> <algorithm> <digest> <salt>), got 9",
                error("1 " + data + " " + hash + " 4096 4096 256 1 sha256 " + ROOT));
        assertEquals("table line 1: verity: argument 1 (\"2\"): version out of range (0..1)", error(base().replaceFirst("^1", "2")));
        assertEquals("table line 1: verity: argument 4 (\"3000\"): Invalid data device block size (a power of two, 512..4096)",
                error(base().replace(" 4096 4096 ", " 3000 4096 ")));
        assertEquals("table line 1: verity: argument 4 (\"8192\"): Invalid data device block size (a power of two, 512..4096)",
                error(base().replace(" 4096 4096 ", " 8192 4096 ")));
        assertEquals("table line 1: verity: argument 8 (\"whirlpool\"): Cannot initialize hash function (known: md5, sha1, "
                + "sha224, sha256, sha384, sha512, sha3-224, sha3-256, sha3-384, sha3-512)", error(base().replace("sha256", "whirlpool")));
        assertEquals("table line 1: verity: argument 9 (\"0000\"): Invalid root digest: sha256 needs 64 hex digits",
                error(base().replace(ROOT, "0000")));
        assertEquals("table line 1: verity: argument 10 (\"0a0\"): Invalid salt", error(base().replace(" 0a0b", " 0a0")));
        assertEquals("table line 1: verity: argument 6 (\"255\"): Data device is too small: 255 blocks of 4096 bytes cover "
                + "fewer than the target's 2048 sectors", error(base().replace(" 256 1 ", " 255 1 ")));
        assertEquals("table line 1: verity: argument 3 (\"" + hash + "\"): Hash device is too small: the tree needs 300 blocks of 4096 bytes",
                error(base().replace(" 256 1 ", " 256 297 ")));
        assertEquals("table line 1: verity: argument 12 (\"bogus\"): Unrecognized verity feature request", error(base() + " 1 bogus"));
        assertEquals("table line 1: verity: argument 11 (\"3\"): Not enough arguments for 3 feature args", error(base() + " 3 a b"));
        assertEquals("table line 1: verity: argument 12 (\"root_hash_sig_key_desc\"): root hash signatures need the kernel keyring, "
                + "which jdm does not have: verify the signature before loading the table", error(base() + " 2 root_hash_sig_key_desc key"));
        assertEquals("table line 1: verity: Missing fec_roots", error(base() + " 4 use_fec_from_device " + hash + " fec_blocks 300"));
        assertEquals("table line 1: verity: Block sizes must match to use FEC",
                error(base().replace(" 4096 4096 ", " 4096 1024 ") + " 6 use_fec_from_device " + hash + " fec_blocks 300 fec_roots 2"));
        assertEquals("table line 1: verity: argument 15 (\"30\"): fec_roots out of range (2..24)",
                error(base() + " 4 use_fec_from_device " + hash + " fec_roots 30"));
    }

    @Test
    void tablePrintsOptionsInTheKernelsOrderAndStatusStartsValid() throws Exception {
        try (DeviceMapper dm = DeviceMapper.create()) {
            dm.create("v", null, line(base() + " 11 CHECK_AT_MOST_ONCE ignore_zero_blocks use_fec_from_device " + hash
                    + " fec_roots 2 fec_start 200 fec_blocks 259 restart_on_corruption"), true);
            assertEquals(line(base() + " 11 restart_on_corruption ignore_zero_blocks check_at_most_once use_fec_from_device "
                    + hash + " fec_blocks 259 fec_start 200 fec_roots 2"), dm.table("v", false).get(0).format());
            assertEquals("0 2048 verity V 0", dm.status("v", false).get(0).format());
            assertEquals(4096, dm.device("v").logicalBlockSize(), "the data block size, as the kernel's io_hints");
        }
        try (DeviceMapper dm = DeviceMapper.create()) {
            dm.create("v", null, line(base().replace(" 0a0b", " -")), true);
            assertEquals(line(base().replace(" 0a0b", " -")), dm.table("v", false).get(0).format());
            assertEquals("0 2048 verity V -", dm.status("v", false).get(0).format());
        }
    }
}
