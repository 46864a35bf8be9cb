package dev.jdm.targets.crypt;

import dev.jdm.core.BlockIoException;
import dev.jdm.core.DmException;
import dev.jdm.core.Errno;
import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.engine.MappedDevice;
import dev.jdm.targets.Images;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Table parsing, refusals, table/status text, key messages and the I/O rules of the crypt target. */
class CryptTargetTest {
    /** 64 bytes, as aes-xts-plain64 with AES-256 takes; recognisable so leaks are easy to find. */
    private static final String KEY = "00112233445566778899aabbccddeeff".repeat(4);
    private static final String OTHER_KEY = "f0e1d2c3b4a5968778695a4b3c2d1e0f".repeat(4);

    @TempDir
    Path dir;

    private Path image() throws IOException {
        return Images.create(dir, "backing.img", 1 << 20);
    }

    /** Creates a device from {@code table} expecting a refusal that leaves no device, writes nothing and keeps the key secret. */
    private static DmException refused(String table, Path img) throws IOException {
        DmException e;
        try (DeviceMapper dm = DeviceMapper.create()) {
            e = assertThrows(DmException.class, () -> dm.create("c", null, table, false));
            assertEquals(List.of(), dm.names(), "a refused create leaves no device behind");
        }
        assertFalse(e.getMessage().contains(KEY.substring(0, 16)), "the key leaks into: " + e.getMessage());
        assertArrayEquals(new byte[1 << 20], Files.readAllBytes(img), "nothing was written");
        return e;
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            0 64 crypt aes-xts-plain64 KEY 0 IMG                     | table line 1: crypt: expected at least 5 arguments (<cipher> <key> <iv_offset> <dev> <offset> [<#opt_params> <opt_params>...]), got 4
            0 64 crypt aes-xts-plain64 0011223 0 IMG 0               | table line 1: crypt: argument 2 (key): hex key has an odd number of digits (7)
            0 64 crypt aes-xts-plain64 KEYzz 0 IMG 0                 | table line 1: crypt: argument 2 (key): key is not hexadecimal (only 0-9, a-f, A-F)
            0 64 crypt aes-xts-plain64 00112233445566778899aabbccddeeff00112233 0 IMG 0 | table line 1: crypt: argument 2 (key): Error decoding and setting key: a 20-byte key does not fit aes-xts-plain64 (1 key of 32, 48, 64 bytes)
            0 64 crypt aes-cbc-essiv:sha256 KEY 0 IMG 0              | table line 1: crypt: argument 2 (key): Error decoding and setting key: a 64-byte key does not fit aes-cbc-essiv:sha256 (1 key of 16, 24, 32 bytes)
            0 64 crypt aes:4-xts-plain64 KEY 0 IMG 0                 | table line 1: crypt: argument 2 (key): Error decoding and setting key: a 64-byte key does not fit aes:4-xts-plain64 (4 keys of 32, 48, 64 bytes)
            0 64 crypt aes-xts-plain64 - 0 IMG 0                     | table line 1: crypt: argument 2 (key): cipher aes-xts-plain64 needs a key ("-" means none)
            0 64 crypt aes-xts-plain64 :64:logon:cryptsetup:k 0 IMG 0 | table line 1: crypt: argument 2 (key): kernel keyring keys (:<key_size>:<type>:<description>) are not available in jdm; give the key in hex
            0 64 crypt aes-cbc-tcw 00112233445566778899aabbccddeeff 0 IMG 0 | table line 1: crypt: argument 2 (key): Wrong key size for TCW: 16 bytes, need cipher keys plus 32 bytes of IV seed and whitening
            0 64 crypt aes-foo-plain64 KEY 0 IMG 0                   | table line 1: crypt: argument 1 ("aes-foo-plain64"): Error allocating crypto tfm: chain mode "foo" is not supported (jdm has ecb, cbc, xts)
            0 64 crypt blowfish-cbc-plain KEY 0 IMG 0                | table line 1: crypt: argument 1 ("blowfish-cbc-plain"): Error allocating crypto tfm: cipher "blowfish" is not supported (jdm has aes, serpent, twofish)
            0 64 crypt aes-cbc KEY 0 IMG 0                           | table line 1: crypt: argument 1 ("aes-cbc"): IV mechanism required for chain mode "cbc"
            0 64 crypt aes-xts-bogus KEY 0 IMG 0                     | table line 1: crypt: argument 1 ("aes-xts-bogus"): Invalid IV mode "bogus"
            0 64 crypt aes-cbc-essiv KEY 0 IMG 0                     | table line 1: crypt: argument 1 ("aes-cbc-essiv"): Digest algorithm missing for ESSIV mode
            0 64 crypt aes-cbc-essiv:whirl KEY 0 IMG 0               | table line 1: crypt: argument 1 ("aes-cbc-essiv:whirl"): Error allocating crypto tfm: ESSIV hash "whirl" is not supported (jdm has md5, sha1, sha224, sha256, sha3-256, sha3-512, sha384, sha512)
            0 64 crypt aes-cbc-essiv:sha1 KEY 0 IMG 0                | table line 1: crypt: argument 1 ("aes-cbc-essiv:sha1"): Error allocating crypto tfm: the 20-byte sha1 digest is not a valid aes key for ESSIV
            0 64 crypt aes:3-cbc-plain KEY 0 IMG 0                   | table line 1: crypt: argument 1 ("aes:3-cbc-plain"): Bad cipher key count specification "3" (must be a power of two)
            0 64 crypt xts(aes)-plain64 KEY 0 IMG 0                  | table line 1: crypt: argument 1 ("xts(aes)-plain64"): Bad cipher specification (crypto API names need the capi: prefix)
            0 64 crypt capi:gcm(aes)-random KEY 0 IMG 0              | table line 1: crypt: argument 1 ("capi:gcm(aes)-random"): Error allocating crypto tfm: chain mode "gcm" is not supported (jdm has ecb, cbc, xts)
            0 64 crypt capi:authenc(hmac(sha256),xts(aes))-random KEY 0 IMG 0 | table line 1: crypt: argument 1 ("capi:authenc(hmac(sha256),xts(aes))-random"): crypto API algorithm "authenc(hmac(sha256),xts(aes))" is not supported (jdm has chainmode(cipher) with ecb, cbc or xts)
            0 64 crypt aes-cbc-random KEY 0 IMG 0                    | table line 1: crypt: argument 1 ("aes-cbc-random"): IV mode "random" is not supported by jdm's crypt target (it needs dm-integrity metadata)
            0 64 crypt aes-xts-plain64 KEY x IMG 0                   | table line 1: crypt: argument 3 ("x"): invalid iv_offset sector
            0 64 crypt aes-xts-plain64 KEY 0 IMG -1                  | table line 1: crypt: argument 5 ("-1"): invalid device sector
            0 64 crypt aes-xts-plain64 KEY 0 IMG 0 1                 | table line 1: crypt: argument 6 ("1"): Not enough feature arguments: 1 announced, 0 given
            0 64 crypt aes-xts-plain64 KEY 0 IMG 0 2 allow_discards  | table line 1: crypt: argument 6 ("2"): Not enough feature arguments: 2 announced, 1 given
            0 64 crypt aes-xts-plain64 KEY 0 IMG 0 1 allow_discards same_cpu_crypt | table line 1: crypt: argument 8 ("same_cpu_crypt"): unexpected argument after the 1 announced feature argument
            0 64 crypt aes-xts-plain64 KEY 0 IMG 0 9 a b c d e f g h i | table line 1: crypt: argument 6 ("9"): number of feature args out of range (0..8)
            0 64 crypt aes-xts-plain64 KEY 0 IMG 0 x                 | table line 1: crypt: argument 6 ("x"): invalid number of feature args
            0 64 crypt aes-xts-plain64 KEY 0 IMG 0 1 fast            | table line 1: crypt: argument 7 ("fast"): Invalid feature arguments
            0 64 crypt aes-xts-plain64 KEY 0 IMG 0 1 sector_size:1000 | table line 1: crypt: argument 7 ("sector_size:1000"): Invalid feature value for sector_size (a power of two from 512 to 4096)
            0 64 crypt aes-xts-plain64 KEY 0 IMG 0 1 sector_size:8192 | table line 1: crypt: argument 7 ("sector_size:8192"): Invalid feature value for sector_size (a power of two from 512 to 4096)
            0 60 crypt aes-xts-plain64 KEY 0 IMG 0 1 sector_size:4096 | table line 1: crypt: argument 7 ("sector_size:4096"): Device size is not multiple of sector_size feature (60 sectors)
            0 64 crypt aes-xts-plain64 KEY 4 IMG 0 1 sector_size:4096 | table line 1: crypt: argument 3 ("4"): Invalid iv_offset sector: not a multiple of sector_size (8 sectors)
            0 64 crypt aes:64-cbc-lmk KEY 0 IMG 0 1 sector_size:4096 | table line 1: crypt: argument 1 ("aes:64-cbc-lmk"): Unsupported sector size for LMK (512-byte sectors only)
            0 64 crypt aes-xts-plain64 KEY 0 IMG 0 1 integrity:28:aead | table line 1: crypt: argument 7 ("integrity:28:aead"): integrity (AEAD and per-sector metadata) is not supported by jdm's crypt target
            0 64 crypt aes-xts-plain64 KEY 0 IMG 2040                | table line 1: crypt: argument 4 ("IMG"): device too small for target: it has 2048 sectors, the target needs sectors 2040 to 2104
            """)
    void refusesWithAnErrorNamingTheArgument(String table, String message) throws IOException {
        Path img = image();
        DmException e = refused(table.replace("KEY", KEY).replace("IMG", img.toString()), img);
        assertEquals(Errno.EINVAL, e.errno());
        assertEquals(message.replace("IMG", img.toString()), e.getMessage());
    }

    @Test
    void tablePrintsTheKeyAndOptionsInTheKernelsOrderAndStatusIsEmpty() throws Exception {
        Path img = image();
        try (DeviceMapper dm = DeviceMapper.create()) {
            dm.create("c", null, "0 64 crypt aes-xts-plain64 " + KEY.toUpperCase() + " 8 " + img + " 128 7 iv_large_sectors "
                    + "sector_size:4096 no_write_workqueue No_Read_Workqueue submit_from_crypt_cpus same_cpu_crypt ALLOW_DISCARDS", false);
            assertEquals("0 64 crypt aes-xts-plain64 " + KEY + " 8 " + img + " 128 7 allow_discards same_cpu_crypt "
                            + "submit_from_crypt_cpus no_read_workqueue no_write_workqueue sector_size:4096 iv_large_sectors",
                    dm.table("c", false).getFirst().format());
            assertEquals("0 64 crypt ", dm.status("c", false).getFirst().format());
            assertEquals(4096, dm.device("c").logicalBlockSize(), "sector_size raises the logical block size");
        }
    }

    @Test
    void keySetAndWipeOnlyWhileSuspendedAndResumeNeedsAKey() throws Exception {
        Path img = image();
        byte[] plain = Images.pattern(8192, 5);
        try (DeviceMapper dm = DeviceMapper.create()) {
            dm.create("c", null, "0 64 crypt aes-xts-plain64 " + KEY + " 0 " + img + " 0", false);
            MappedDevice md = dm.device("c");
            assertEquals(512, md.logicalBlockSize());
            Images.write(md, 0, plain);

            DmException active = assertThrows(DmException.class, () -> dm.message("c", 0, List.of("key", "wipe")));
            assertEquals(Errno.EINVAL, active.errno());
            assertEquals("crypt: not suspended during key manipulation", active.getMessage());

            dm.suspend("c", false);
            assertEquals(null, dm.message("c", 0, List.of("KEY", "WIPE")));
            assertEquals("0 64 crypt aes-xts-plain64 " + "0".repeat(128) + " 0 " + img + " 0", dm.table("c", false).getFirst().format());
            DmException resume = assertThrows(DmException.class, () -> dm.resume("c"));
            assertEquals(Errno.EAGAIN, resume.errno());
            assertEquals("crypt: aborting resume - crypt key is not set (use message \"key set <key>\")", resume.getMessage());

            DmException shortKey = assertThrows(DmException.class, () -> dm.message("c", 0, List.of("key", "set", KEY.substring(0, 64))));
            assertEquals(Errno.EINVAL, shortKey.errno());
            assertEquals("crypt: key set: new key has 32 bytes, the table's key has 64 (the size may not change)", shortKey.getMessage());
            DmException bad = assertThrows(DmException.class, () -> dm.message("c", 0, List.of("key", "set", "zz" + KEY.substring(2))));
            assertFalse(bad.getMessage().contains(KEY.substring(2, 20)));
            DmException unknown = assertThrows(DmException.class, () -> dm.message("c", 0, List.of("key", "rotate")));
            assertEquals("crypt: unrecognised message received (expected \"key set <key>\" or \"key wipe\")", unknown.getMessage());

            dm.message("c", 0, List.of("key", "set", OTHER_KEY));
            dm.resume("c");
            assertEquals("0 64 crypt aes-xts-plain64 " + OTHER_KEY + " 0 " + img + " 0", dm.table("c", false).getFirst().format());
            assertNotEquals(ByteBuffer.wrap(plain), ByteBuffer.wrap(Images.read(md, 0, plain.length)), "another key reads other plaintext");

            dm.suspend("c", false);
            dm.message("c", 0, List.of("key", "set", KEY));
            dm.resume("c");
            assertArrayEquals(plain, Images.read(md, 0, plain.length), "the original key reads the original plaintext");
            DmException resumed = assertThrows(DmException.class, () -> dm.message("c", 0, List.of("key", "wipe")));
            assertEquals(Errno.EINVAL, resumed.errno());
        }
    }

    @Test
    void misalignedIoFailsWithEioAndDiscardsNeedTheOption() throws Exception {
        Path img = image();
        try (DeviceMapper dm = DeviceMapper.create()) {
            dm.create("c", null, "0 64 crypt aes-xts-plain64 " + KEY + " 0 " + img + " 0 1 sector_size:4096", false);
            MappedDevice md = dm.device("c");
            BlockIoException misaligned = assertThrows(BlockIoException.class, () -> md.write(512, ByteBuffer.allocate(4096), false));
            assertEquals(Errno.EIO, misaligned.errno());
            assertEquals("crypt: I/O of 4096 bytes at byte 512 is not aligned to the 4096-byte encryption sector", misaligned.getMessage());
            BlockIoException shortRead = assertThrows(BlockIoException.class, () -> md.read(0, ByteBuffer.allocate(512)));
            assertEquals(Errno.EIO, shortRead.errno());
            BlockIoException discard = assertThrows(BlockIoException.class, () -> md.discard(0, 4096));
            assertEquals(Errno.EOPNOTSUPP, discard.errno());
            assertFalse(md.supportsDiscard());
        }
    }

    @Test
    void writeZeroesStoresEncryptedZeroesThatReadBackAsZeroes() throws Exception {
        Path img = image();
        try (DeviceMapper dm = DeviceMapper.create()) {
            dm.create("c", null, "0 256 crypt aes-xts-plain64 " + KEY + " 0 " + img + " 0 1 allow_discards", false);
            MappedDevice md = dm.device("c");
            Images.write(md, 0, Images.pattern(256 * 512, 9));
            md.writeZeroes(4096, 100 * 1024, true);
            assertArrayEquals(new byte[100 * 1024], Images.read(md, 4096, 100 * 1024));
            assertNotEquals(ByteBuffer.wrap(new byte[512]), ByteBuffer.wrap(Images.slice(img, 4096, 512)), "zeroes are stored encrypted");
            assertEquals(md.supportsDiscard(), true);
            md.discard(0, 4096);
        }
    }

    /** loop-AES v3 (65 key parts, the last one the IV seed) has no independent reference here: check it round-trips and that the seed matters. */
    @Test
    void loopAesVersion3UsesItsSeed() throws Exception {
        Path img = image();
        byte[] plain = Images.pattern(4096, 11);
        String keys = KEY.repeat(16);                              // 64 keys of 16 bytes ...
        String withSeed = keys + "0f".repeat(16);                  // ... and a 65th part: the seed
        String otherSeed = keys + "f0".repeat(16);
        byte[][] stored = new byte[2][];
        int i = 0;
        for (String key : List.of(withSeed, otherSeed)) {
            try (DeviceMapper dm = DeviceMapper.create()) {
                dm.create("c", null, "0 8 crypt aes:64-cbc-lmk " + key + " 0 " + img + " 0", false);
                MappedDevice md = dm.device("c");
                Images.write(md, 0, plain);
                assertArrayEquals(plain, Images.read(md, 0, plain.length));
                stored[i++] = Images.slice(img, 0, plain.length);
            }
        }
        assertNotEquals(ByteBuffer.wrap(stored[0]), ByteBuffer.wrap(stored[1]), "the seed changes the ciphertext");
    }

    /** Workers are lent to one I/O at a time: concurrent writers and readers on disjoint ranges see only their own data. */
    @Test
    void concurrentIoKeepsEachRangesData() throws Exception {
        Path img = Images.create(dir, "shared.img", 8 << 20);
        int threads = 8;
        int slice = 1 << 20;
        try (DeviceMapper dm = DeviceMapper.create()) {
            dm.create("c", null, "0 " + (8 << 11) + " crypt aes:4-xts-plain64 " + KEY.repeat(4) + " 0 " + img + " 0", false);
            MappedDevice md = dm.device("c");
            try (var pool = Executors.newVirtualThreadPerTaskExecutor()) {
                List<Future<?>> done = new ArrayList<>();
                for (int t = 0; t < threads; t++) {
                    int id = t;
                    done.add(pool.submit(() -> {
                        for (int round = 0; round < 20; round++) {
                            byte[] data = Images.pattern(64 * 1024, id * 100 + round);
                            long at = (long) id * slice + (round % 16) * 64 * 1024L;
                            Images.write(md, at, data);
                            assertArrayEquals(data, Images.read(md, at, data.length));
                        }
                        return null;
                    }));
                }
                for (var f : done) {
                    f.get();
                }
            }
        }
    }

    @Test
    void largeWritesAndReadsSpanSeveralBounceBuffers() throws Exception {
        Path img = Images.create(dir, "big.img", 1 << 20);
        byte[] plain = Images.pattern(600 * 1024, 3);
        try (DeviceMapper dm = DeviceMapper.create()) {
            dm.create("c", null, "0 2048 crypt aes-xts-plain64 " + KEY + " 0 " + img + " 0", false);
            MappedDevice md = dm.device("c");
            Images.write(md, 8192, plain);
            assertArrayEquals(plain, Images.read(md, 8192, plain.length));
            ByteBuffer direct = ByteBuffer.allocateDirect(plain.length);
            md.read(8192, direct);
            byte[] back = new byte[plain.length];
            direct.flip().get(back);
            assertArrayEquals(plain, back);
        }
    }
}
