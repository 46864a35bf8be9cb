package dev.jdm.targets;

import dev.jdm.core.DmException;
import dev.jdm.core.Errno;
import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.engine.MappedDevice;
import dev.jdm.core.engine.TargetTypes;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.LongRange;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;

import static dev.jdm.targets.Images.*;
import static dev.jdm.targets.TargetTestSupport.assertIoError;
import static org.junit.jupiter.api.Assertions.*;

class FlakeyTargetTest {
    private static final long SECOND = 1_000_000_000L;

    @TempDir
    Path dir;
    Path a;
    /** The clock every flakey target of the test reads; starts far from zero to catch offset mistakes. */
    final AtomicLong now = new AtomicLong(123_456_789_000L);
    DeviceMapper dm;

    @BeforeEach
    void setUp() throws Exception {
        a = create(dir, "a.img", 1 << 20);
        Files.write(a, pattern(1 << 20, 99));
        dm = engine(now);
    }

    private static DeviceMapper engine(AtomicLong clock) {
        TargetTypes types = TargetTypes.discover();
        types.register(new FlakeyTarget.Type(clock::get));
        return new DeviceMapper(types, DeviceMapper.Options.DEFAULT);
    }

    @AfterEach
    void tearDown() {
        dm.close();
    }

    private MappedDevice flakey(String features) throws DmException {
        dm.create("f", null, "0 2048 flakey " + a + " 0 2 3" + features, false);
        return dm.device("f");
    }

    private void at(double seconds) {
        now.set(123_456_789_000L + (long) (seconds * SECOND));
    }

    private String table() throws DmException {
        return dm.table("f", false).getFirst().format();
    }


    @Test
    void upDownCycleFollowsTheClockFromLoadWithTheImplicitErrorDefault() throws Exception {
        MappedDevice md = flakey("");
        assertEquals("0 2048 flakey " + a + " 0 2 3 2 error_reads error_writes", table());
        assertEquals("0 2048 flakey ", dm.status("f", false).getFirst().format());
        byte[] original = Files.readAllBytes(a);
        double[] up = {0, 1.999, 5, 6.5, 10};
        double[] down = {2, 4.999, 7, 9.999};
        for (double t : up) {
            at(t);
            assertArrayEquals(Arrays.copyOfRange(original, 512, 1024), read(md, 512, 512), "up at " + t);
        }
        for (double t : down) {
            at(t);
            assertIoError(Errno.EIO, () -> read(md, 0, 512));
            assertIoError(Errno.EIO, () -> write(md, 0, new byte[512]));
            assertIoError(Errno.EIO, md::flush);
            assertIoError(Errno.EIO, () -> md.discard(0, 512));
        }
        assertArrayEquals(original, Files.readAllBytes(a), "nothing reached the device while down");
        at(5);
        write(md, 0, filled(512, 7));
        assertArrayEquals(filled(512, 7), slice(a, 0, 512));
    }

    @Test
    void dropWritesAcknowledgesAndDiscardsWhileReadsWork() throws Exception {
        MappedDevice md = flakey(" 1 drop_writes");
        assertEquals("0 2048 flakey " + a + " 0 2 3 1 drop_writes", table());
        byte[] original = slice(a, 0, 4096);
        at(3);
        write(md, 0, filled(4096, 1));
        md.flush();
        md.writeZeroes(0, 4096, false);
        assertArrayEquals(original, read(md, 0, 4096));
        assertArrayEquals(original, slice(a, 0, 4096));
    }

    @Test
    void errorWritesAloneLetsReadsThrough() throws Exception {
        MappedDevice md = flakey(" 1 error_writes");
        assertEquals("0 2048 flakey " + a + " 0 2 3 1 error_writes", table());
        at(2);
        assertArrayEquals(slice(a, 0, 512), read(md, 0, 512));
        assertIoError(Errno.EIO, () -> write(md, 0, new byte[512]));
    }

    @Test
    void errorReadsAloneLetsWritesThrough() throws Exception {
        MappedDevice md = flakey(" 1 ERROR_READS");
        assertEquals("0 2048 flakey " + a + " 0 2 3 1 error_reads", table());
        at(2);
        assertIoError(Errno.EIO, () -> read(md, 0, 512));
        write(md, 0, filled(512, 9));
        assertArrayEquals(filled(512, 9), slice(a, 0, 512));
    }

    @Test
    void corruptBioByteOnReadChangesTheNthByteOfWhatIsReturnedOnly() throws Exception {
        MappedDevice md = flakey(" 5 corrupt_bio_byte 32 r 1 0");
        assertEquals("0 2048 flakey " + a + " 0 2 3 5 corrupt_bio_byte 32 r 1 0", table());
        byte[] disk = slice(a, 1024, 4096);
        at(1);
        assertArrayEquals(disk, read(md, 1024, 4096), "up: untouched");
        at(2);
        byte[] expected = disk.clone();
        expected[31] = 1;
        assertArrayEquals(expected, read(md, 1024, 4096));
        assertArrayEquals(disk, slice(a, 1024, 4096));
        byte[] small = read(md, 0, 16);
        assertArrayEquals(slice(a, 0, 16), small, "a byte beyond the I/O corrupts nothing");
        write(md, 0, filled(512, 3));
        assertArrayEquals(filled(512, 3), slice(a, 0, 512), "writes pass while only reads are corrupted");
    }

    @Test
    void corruptBioByteOnWriteCorruptsACopyAndMatchesFlags() throws Exception {
        MappedDevice md = flakey(" 5 corrupt_bio_byte 224 w 0 " + FlakeyTarget.FLAG_FUA);
        assertEquals("0 2048 flakey " + a + " 0 2 3 5 corrupt_bio_byte 224 w 0 131072", table());
        at(4);
        byte[] data = filled(512, 0x5a);
        write(md, 0, data);
        assertArrayEquals(data, slice(a, 0, 512), "a write without FUA does not match the flag mask");
        ByteBuffer src = ByteBuffer.wrap(data.clone());
        md.write(512, src, true);
        assertFalse(src.hasRemaining());
        assertArrayEquals(data, src.array(), "the caller's buffer is left intact");
        byte[] expected = data.clone();
        expected[223] = 0;
        assertArrayEquals(expected, slice(a, 512, 512));
    }

    @Test
    void randomCorruptionWithASeedRepeatsExactly() throws Exception {
        String features = " 6 random_read_corrupt 1000000000 random_write_corrupt 500000000 random_seed 42";
        MappedDevice md = flakey(features);
        assertEquals("0 2048 flakey " + a + " 0 2 3 6 random_read_corrupt 1000000000 random_write_corrupt 500000000 random_seed 42", table());
        at(2);
        byte[][] first = new byte[20][];
        for (int i = 0; i < first.length; i++) {
            first[i] = read(md, i * 512L, 512);
        }
        dm.remove("f", false, false);
        MappedDevice again = flakey(features); // loaded at t=2: its clock starts there
        at(4.5);
        for (int i = 0; i < first.length; i++) {
            assertArrayEquals(first[i], read(again, i * 512L, 512), "read " + i);
            assertTrue(differences(first[i], slice(a, i * 512L, 512)) <= 1);
        }
    }

    private static int differences(byte[] x, byte[] y) {
        int n = 0;
        for (int i = 0; i < x.length; i++) {
            if (x[i] != y[i]) n++;
        }
        return n;
    }

    @Property(tries = 40, seed = "20261125")
    void aCertainRandomWriteCorruptionChangesAtMostOneByteOfTheCopy(@ForAll @LongRange(min = 0, max = 1L << 40) long seed,
                                                                     @ForAll @IntRange(min = 1, max = 8) int sectors) throws Exception {
        Path dirP = Files.createTempDirectory("flakey");
        Path img = create(dirP, "p.img", 8 * 512);
        AtomicLong clock = new AtomicLong(0);
        try (DeviceMapper engine = engine(clock)) {
            engine.create("p", null, "0 8 flakey " + img + " 0 0 1 4 random_write_corrupt 1000000000 random_seed " + seed, false);
            byte[] data = pattern(sectors * 512, (int) seed);
            byte[] copy = data.clone();
            write(engine.device("p"), 0, data);
            assertArrayEquals(copy, data);
            assertTrue(differences(data, slice(img, 0, data.length)) <= 1);
        }
    }

    /** What the zero-copy path sent (prefix, then the bytes), or null when it declined. */
    static byte[] sentZeroCopy(MappedDevice md, long offset, int length) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        boolean sent = md.sendCached(offset, length, ByteBuffer.wrap(new byte[]{42}), Channels.newChannel(out));
        assertEquals(sent, out.size() > 0, "all or nothing");
        return sent ? out.toByteArray() : null;
    }

    @Test
    void zeroCopyReadsOnlyWhileUpSoTheDownPhaseIsNeverBypassed() throws Exception {
        MappedDevice md = flakey(" 1 error_reads");
        byte[] expected = new byte[4097];
        expected[0] = 42;
        System.arraycopy(Files.readAllBytes(a), 4096, expected, 1, 4096);
        assertArrayEquals(expected, sentZeroCopy(md, 4096, 4096), "up: straight from the file");
        at(2);
        assertTrue(sentZeroCopy(md, 4096, 4096) == null, "down: the read must meet error_reads");
        assertIoError(Errno.EIO, () -> read(md, 4096, 4096));
    }

    @Test
    void rejectedCombinationsAndMalformedFeaturesNameTheProblemAndChangeNothing() throws Exception {
        flakey(" 1 drop_writes");
        String[][] cases = {
                {" 0 0", "total (up + down) interval is zero"},
                {" 4294967295 1", "interval overflow: up + down must fit in 32 bits"},
                {" x 1", "argument 3 (\"x\"): invalid up interval"},
                {" 1 1 2 drop_writes error_writes", "argument 7 (\"error_writes\"): feature error_writes conflicts with feature drop_writes"},
                {" 1 1 2 error_reads error_reads", "argument 7 (\"error_reads\"): feature error_reads duplicated"},
                {" 1 1 6 error_writes corrupt_bio_byte 1 w 0 0", "error_writes is incompatible with random_write_corrupt or corrupt_bio_byte with the WRITE flag set"},
                {" 1 1 3 drop_writes random_write_corrupt 5", "drop_writes is incompatible with random_write_corrupt or corrupt_bio_byte with the WRITE flag set"},
                {" 1 1 3 error_reads random_read_corrupt 1", "error_reads is incompatible with random_read_corrupt or corrupt_bio_byte with the READ flag set"},
                {" 1 1 5 corrupt_bio_byte 0 r 0 0", "argument 7 (\"0\"): corrupt bio byte out of range (1..4294967295)"},
                {" 1 1 5 corrupt_bio_byte 1 x 0 0", "argument 8 (\"x\"): invalid corrupt bio direction (r or w)"},
                {" 1 1 5 corrupt_bio_byte 1 r 256 0", "argument 9 (\"256\"): corrupt value to write into bio byte out of range (0..255)"},
                {" 1 1 3 corrupt_bio_byte 1 r", "argument 6 (\"corrupt_bio_byte\"): feature corrupt_bio_byte requires 4 parameters"},
                {" 1 1 2 random_read_corrupt 1000000001", "argument 7 (\"1000000001\"): random corrupt probability out of range (0..1000000000)"},
                {" 1 1 1 sometimes", "argument 6 (\"sometimes\"): unrecognised flakey feature"},
                {" 1 1 1 Random_Seed", "argument 6 (\"Random_Seed\"): feature random_seed requires a parameter"},
                {" 1 1 4 random_seed 1 random_seed 2", "argument 8 (\"random_seed\"): feature random_seed duplicated"},
                {" 1 1 3 drop_writes", "argument 5 (\"3\"): needs 3 feature arguments, only 1 follow"},
                {" 1 1 1 drop_writes extra", "argument 7 (\"extra\"): unexpected argument after the feature group"},
                {" 1 1 14", "argument 5 (\"14\"): number of feature arguments out of range (0..13)"},
        };
        for (String[] c : cases) {
            DmException e = assertThrows(DmException.class, () -> dm.load("f", "0 2048 flakey " + a + " 0" + c[0], false), c[0]);
            assertEquals("table line 1: flakey: " + c[1], e.getMessage());
        }
        assertEquals("0 2048 flakey " + a + " 0 2 3 1 drop_writes", table());
    }

    @Test
    void zeroFeaturesAndCombinationsPrintLikeTheKernel() throws Exception {
        String[][] cases = {
                {" 0", "2 error_reads error_writes"},
                {" 2 error_reads drop_writes", "2 error_reads drop_writes"},
                {" 7 corrupt_bio_byte 1 R 255 1 random_read_corrupt 0", "5 corrupt_bio_byte 1 r 255 1"},
                {" 7 error_writes corrupt_bio_byte 9 r 7 0 error_reads", null},
                {" 5 error_reads random_write_corrupt 7 random_seed 0", "5 error_reads random_write_corrupt 7 random_seed 0"},
                {" 2 random_seed 3", "4 error_reads error_writes random_seed 3"},
        };
        for (String[] c : cases) {
            if (c[1] == null) {
                assertThrows(DmException.class, () -> dm.create("g", null, "0 8 flakey " + a + " 0 1 1" + c[0], false));
                continue;
            }
            dm.create("g", null, "0 8 flakey " + a + " 0 1 1" + c[0], false);
            assertEquals("0 8 flakey " + a + " 0 1 1 " + c[1], dm.table("g", false).getFirst().format(), c[0]);
            dm.remove("g", false, false);
        }
    }
}
