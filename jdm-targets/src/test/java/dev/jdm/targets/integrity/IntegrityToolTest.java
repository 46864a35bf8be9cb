package dev.jdm.targets.integrity;

import dev.jdm.core.BlockIoException;
import dev.jdm.core.Errno;
import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.testing.ExternalTools;
import dev.jdm.targets.Images;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * format / open / dump as integritysetup does them, and the journal MAC: superblock and section MACs
 * recomputed with python3's hmac over the bytes the kernel feeds its shash.
 */
class IntegrityToolTest {
    private static final long SIZE = 4 << 20;

    @TempDir
    Path dir;

    /**
     * 4 MiB, crc32c, fix_padding + fix_hmac (integritysetup's defaults): one 176-sector section,
     * run 256, data from 440 → 8192 − 440 = 7752 provided; superblock version 5.
     */
    @Test
    void formatWipeOpenDump() throws Exception {
        Path img = Images.create(dir, "t.img", SIZE);
        Files.write(img, new byte[]{7}, java.nio.file.StandardOpenOption.WRITE); // junk where the superblock goes
        assertEquals(7752, IntegrityTool.format(img, IntegrityTool.Options.defaults()));
        assertEquals("Info for integrity device " + img + ".\n"
                + "superblock_version 5\n"
                + "log2_interleave_sectors 15\n"
                + "integrity_tag_size 4\n"
                + "journal_sections 1\n"
                + "provided_data_sectors 7752\n"
                + "sector_size 512\n"
                + "log2_blocks_per_bitmap 15\n"
                + "flags fix_padding fix_hmac\n", IntegrityTool.dump(img, 0));
        try (DeviceMapper dm = DeviceMapper.create()) {
            String table = IntegrityTool.open(dm, "t", img, IntegrityTool.Options.defaults(), IntegrityMode.JOURNAL, false);
            assertEquals("0 7752 integrity " + img + " 0 4 J 3 fix_padding fix_hmac internal_hash:crc32c", table);
            ByteBuffer all = ByteBuffer.allocate(7752 * 512);
            dm.device("t").read(0, all);
            assertTrue(Harness.allZero(all.array()), "wiped: every block reads as zeroes with a valid tag");
            assertEquals("0 7752 integrity 0 7752 -", dm.status("t", false).getFirst().format());
        }
    }

    @Test
    void withoutWipeUnwrittenBlocksFailTheirCheck() throws Exception {
        Path img = Images.create(dir, "n.img", SIZE);
        IntegrityTool.format(img, IntegrityTool.Options.defaults().withWipe(false));
        try (DeviceMapper dm = DeviceMapper.create()) {
            IntegrityTool.open(dm, "n", img, IntegrityTool.Options.defaults(), IntegrityMode.DIRECT, false);
            BlockIoException e = assertThrows(BlockIoException.class, () -> dm.device("n").read(4096, ByteBuffer.allocate(512)));
            assertEquals(Errno.EILSEQ, e.errno());
            assertEquals("integrity: Checksum failed at sector 0x8 (8)", e.getMessage());
        }
    }

    /**
     * journal_mac:hmac(sha256):key with fix_hmac. Entries shrink to 496 bytes per sector: 20 of 24
     * bytes, 160 per section, sections of 168 sectors. The superblock's MAC covers its first
     * 512 − 32 bytes and sits at 480; section 0's MAC = HMAC(salt ‖ le64 0 ‖ 160 entry sector
     * fields), 8 bytes at offset 496 of each of the first 8 sectors.
     */
    @Test
    void journalMacBytes() throws Exception {
        String python = ExternalTools.requireTool("python3", "python3");
        String key = "0f0e0d0c0b0a09080706050403020100";
        Path img = Images.create(dir, "m.img", SIZE);
        IntegrityTool.Options o = new IntegrityTool.Options(0, "crc32c", 0, 512, 0, 0, "hmac(sha256):" + key,
                false, true, true, null, false);
        assertEquals(8192 - 8 - 168 - 256, IntegrityTool.format(img, o));
        byte[] disk = Files.readAllBytes(img);
        assertEquals(0x1 | 0x8 | 0x10, disk[24], "flags: HAVE_JOURNAL_MAC, FIXED_PADDING, FIXED_HMAC");
        byte[] salt = Harness.copy(disk, 48, 16);
        String sbMac = pyHmac(python, key, Harness.copy(disk, 0, 480));
        assertEquals(sbMac, HexFormat.of().formatHex(Harness.copy(disk, 480, 32)), "superblock MAC");

        byte[] unused = HexFormat.of().parseHex("00000000ffffffff");
        byte[] fields = new byte[160 * 8];
        for (int n = 0; n < 160; n++) {
            System.arraycopy(unused, 0, fields, n * 8, 8);
        }
        byte[] mac = Harness.concat(HexFormat.of().parseHex(pyHmac(python, key, Harness.concat(salt, Harness.le64(0), fields))), new byte[32]);
        for (int j = 0; j < 8; j++) {
            assertArrayEquals(Harness.copy(mac, j * 8, 8), Harness.copy(disk, (8 + j) * 512 + 496, 8), "MAC part in journal sector " + j);
        }
        try (DeviceMapper dm = DeviceMapper.create()) {
            IntegrityTool.open(dm, "m", img, o, IntegrityMode.JOURNAL, false);
            byte[] data = Images.pattern(8192, 3);
            dm.device("m").write(0, ByteBuffer.wrap(data), true);
            ByteBuffer back = ByteBuffer.allocate(8192);
            dm.device("m").read(0, back);
            assertArrayEquals(data, back.array());
        }
    }

    private static String pyHmac(String python, String key, byte[] data) throws Exception {
        String py = "import sys,hmac,hashlib; sys.stdout.write(hmac.new(bytes.fromhex('" + key
                + "'), sys.stdin.buffer.read(), hashlib.sha256).hexdigest())";
        return Harness.run(List.of(python, "-c", py), data);
    }

    /** --sector-size 4096: formatting loads a table of one 4 KiB block, and the opened device takes 4 KiB blocks. */
    @Test
    void fourKiSectors() throws Exception {
        Path img = Images.create(dir, "s.img", SIZE);
        IntegrityTool.Options o = new IntegrityTool.Options(0, "crc32c", 0, 4096, 0, 0, null, false, true, true, null, true);
        long provided = IntegrityTool.format(img, o);
        assertEquals(0, provided % 8, "whole blocks");
        try (DeviceMapper dm = DeviceMapper.create()) {
            String table = IntegrityTool.open(dm, "s", img, o, IntegrityMode.JOURNAL, false);
            assertTrue(table.startsWith("0 " + provided + " integrity " + img + " 0 4 J 4 block_size:4096 "), table);
            assertEquals(4096, dm.device("s").logicalBlockSize());
            ByteBuffer back = ByteBuffer.allocate(4096);
            dm.device("s").read((provided - 8) << 9, back);
            assertArrayEquals(new byte[4096], back.array(), "wiped");
        }
    }

    /** integritysetup --journal-crypt: the key is part of every table, and the journal is only readable with it. */
    @Test
    void journalCryptFormatOpenAndReopen() throws Exception {
        String key = "00112233445566778899aabbccddeeff";
        Path img = Images.create(dir, "c.img", SIZE);
        IntegrityTool.Options o = IntegrityTool.Options.defaults().withJournalCrypt("cbc(aes):" + key);
        long provided = IntegrityTool.format(img, o);
        byte[] data = Images.pattern(8192, 4);
        try (DeviceMapper dm = DeviceMapper.create()) {
            String table = IntegrityTool.open(dm, "c", img, o, IntegrityMode.JOURNAL, false);
            assertTrue(table.endsWith(" internal_hash:crc32c journal_crypt:cbc(aes):" + key), table);
            dm.device("c").write(0, ByteBuffer.wrap(data), true);
            dm.remove("c", false, false);

            IntegrityTool.open(dm, "c", img, o, IntegrityMode.JOURNAL, false);
            ByteBuffer back = ByteBuffer.allocate(8192);
            dm.device("c").read(0, back);
            assertArrayEquals(data, back.array());
            dm.remove("c", false, false);

            IntegrityTool.open(dm, "w", img, o.withJournalCrypt("cbc(aes):ff" + key.substring(2)), IntegrityMode.JOURNAL, false);
            IOException e = assertThrows(IOException.class, () -> dm.device("w").read(0, ByteBuffer.allocate(512)));
            assertTrue(e.getMessage().contains("journal commit id not recognised"), e.getMessage());
        }
        assertEquals(7752, provided);
    }
}
