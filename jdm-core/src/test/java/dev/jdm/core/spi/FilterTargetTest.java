package dev.jdm.core.spi;

import dev.jdm.core.BlockIoException;
import dev.jdm.core.Errno;
import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.engine.MappedDevice;
import dev.jdm.core.engine.TargetTypes;
import dev.jdm.core.io.FileBlockDevice;
import dev.jdm.core.testing.MemoryDevice;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

class FilterTargetTest {
    @TempDir
    Path dir;

    private static byte[] pattern(int length, long seed) {
        byte[] b = new byte[length];
        new SplittableRandom(seed).nextBytes(b);
        return b;
    }

    @Test
    void theCountingExampleCountsEachKindAndForwardsToItsOffset() throws Exception {
        Path file = dir.resolve("a.img");
        Files.write(file, new byte[64 * 1024]);
        TargetTypes types = TargetTypes.discover();
        types.register(new CountingTarget.Type());
        try (DeviceMapper dm = new DeviceMapper(types, DeviceMapper.Options.DEFAULT)) {
            dm.create("c", null, "0 64 counting " + file + " 8", false);
            MappedDevice md = dm.device("c");
            byte[] data = pattern(8192, 1);
            md.write(4096, ByteBuffer.wrap(data), false);
            ByteBuffer back = ByteBuffer.allocate(8192);
            md.read(4096, back);
            md.flush();
            md.discard(0, 4096);
            md.writeZeroes(12288, 4096, false);

            assertArrayEquals(data, back.array());
            byte[] disk = Files.readAllBytes(file);
            assertArrayEquals(data, Arrays.copyOfRange(disk, 8 * 512 + 4096, 8 * 512 + 12288), "sector 8 is target byte 0");
            assertFalse(md.sendCached(0, 4096, ByteBuffer.allocate(0), Channels.newChannel(new ByteArrayOutputStream())),
                    "a filter counting reads keeps them off the zero-copy path");
            assertEquals("0 64 counting " + file + " 8", dm.table("c", false).getFirst().format());
            assertEquals("0 64 counting 1 1 1 1 1", dm.status("c", false).getFirst().format());
        }
    }

    /** A filter over every hook: cuts at 4 KiB, zeroes the first byte read, drops writes to piece 1, fails discards. */
    private static final class Probe extends FilterTarget {
        final List<String> seen = new ArrayList<>();

        Probe(MemoryDevice device) {
            super(new Route(device, 2));
        }

        @Override
        protected long pieceLength(long offset, long remaining) {
            return Math.min(remaining, 4096 - offset % 4096);
        }

        @Override
        protected boolean beforeRead(long offset, int length) {
            seen.add("read " + offset + "+" + length);
            return offset == 0;
        }

        @Override
        protected void afterRead(long offset, ByteBuffer piece) {
            seen.add("after " + offset + "+" + piece.remaining());
            piece.put(0, (byte) 0);
        }

        @Override
        protected ByteBuffer beforeWrite(long offset, ByteBuffer piece, boolean fua) {
            seen.add("write " + offset + "+" + piece.remaining());
            return offset / 4096 == 1 ? null : piece;
        }

        @Override
        protected boolean beforeDataless(Dataless op, long offset, long length) throws IOException {
            seen.add(op + " " + offset + "+" + length);
            if (op == Dataless.DISCARD) {
                throw new BlockIoException(Errno.EIO, "probe: discard refused");
            }
            return op != Dataless.FLUSH;
        }

        @Override
        public String table() {
            return "probe";
        }
    }

    @Test
    void eachHookSeesItsPiecesAndMayChangeFailOrDropThem() throws Exception {
        MemoryDevice memory = new MemoryDevice(64 * 1024);
        Probe probe = new Probe(memory);
        byte[] data = pattern(10_000, 2);
        ByteBuffer src = ByteBuffer.wrap(data);
        probe.write(1000, src, false);
        assertEquals(10_000, src.position(), "a dropped piece counts as written");
        byte[] expected = new byte[64 * 1024];
        System.arraycopy(data, 0, expected, 1024 + 1000, 3096);
        System.arraycopy(data, 3096 + 4096, expected, 1024 + 8192, 10_000 - 3096 - 4096);
        assertArrayEquals(expected, memory.bytes(), "route offset 2 sectors; piece [4096, 8192) dropped");

        ByteBuffer dst = ByteBuffer.allocate(6000).position(100);
        probe.read(0, dst);
        assertEquals(6000, dst.position());
        byte[] read = Arrays.copyOfRange(dst.array(), 100, 6000);
        byte[] onDevice = memory.slice(1024, 5900);
        onDevice[0] = 0;
        assertArrayEquals(onDevice, read, "afterRead changed byte 0 of its piece only");

        BlockIoException refused = assertThrows(BlockIoException.class, () -> probe.discard(0, 100));
        assertEquals(Errno.EIO, refused.errno());
        probe.flush();
        probe.writeZeroes(4000, 200, false);
        assertEquals(0, memory.flushes(), "a flush the hook declined never reaches the device");
        assertEquals(List.of("write 1000+3096", "write 4096+4096", "write 8192+2808",
                "read 0+4096", "after 0+4096", "read 4096+1804",
                "DISCARD 0+100", "FLUSH 0+0", "WRITE_ZEROES 4000+96", "WRITE_ZEROES 4096+104"), probe.seen);
        assertArrayEquals(new byte[200], memory.slice(1024 + 4000, 200));
    }

    @Test
    void aPlainFilterSendsReadsZeroCopyFromItsRoute() throws Exception {
        Path file = dir.resolve("b.img");
        byte[] contents = pattern(64 * 1024, 3);
        Files.write(file, contents);
        try (FileBlockDevice device = FileBlockDevice.open(file, FileBlockDevice.Options.READ_WRITE)) {
            FilterTarget plain = new FilterTarget(new FilterTarget.Route(device, 16)) {
                @Override
                public String table() {
                    return route().table();
                }
            };
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            assertTrue(plain.sendCached(512, 4096, ByteBuffer.wrap(new byte[]{9}), Channels.newChannel(out)));
            byte[] expected = new byte[4097];
            expected[0] = 9;
            System.arraycopy(contents, 16 * 512 + 512, expected, 1, 4096);
            assertArrayEquals(expected, out.toByteArray());
            assertEquals(List.of(device), plain.devices());
        }
    }
}
