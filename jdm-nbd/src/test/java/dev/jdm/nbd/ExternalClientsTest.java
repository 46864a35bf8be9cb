package dev.jdm.nbd;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jdm.core.engine.MappedDevice;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;

import static dev.jdm.core.testing.TestPattern.pattern;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Conformance with NBD clients nobody here wrote: nbdinfo, nbdcopy, qemu-img, qemu-io and fio's nbd engine. */
@Timeout(300)
class ExternalClientsTest {
    static final int MIB = 1 << 20;
    static final int SIZE = 16 * MIB;
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;
    Served served;

    @BeforeEach
    void serve() throws Exception {
        served = new Served(dir);
        served.linear("disk", SIZE, false);
        served.linear("ro", SIZE, true);
        served.dm.create("zeroes", null, "0 " + SIZE / 512 + " zero", false);
        // Data at 3 MiB (64 KiB) and 9 MiB (4 KiB) in an otherwise sparse file.
        MappedDevice disk = served.dm.device("disk");
        disk.write(3 * MIB, ByteBuffer.wrap(pattern(64 << 10, 1)), false);
        disk.write(9 * MIB, ByteBuffer.wrap(pattern(4096, 2)), false);
        disk.flush();
    }

    @AfterEach
    void stop() {
        served.close();
    }


    @Test
    void nbdinfoListsEveryExportWithItsFields() throws Exception {
        JsonNode list = JSON.readTree(Tool.run("nbdinfo", "libnbd-bin", "--list", "--json", "nbd+unix://?socket=" + served.socket).ok().out());
        assertEquals("newstyle-fixed", list.get("protocol").asText());
        assertTrue(list.get("structured").asBoolean());
        JsonNode exports = list.get("exports");
        assertEquals(3, exports.size());
        assertEquals("disk", exports.get(0).get("export-name").asText());
        assertEquals("ro", exports.get(1).get("export-name").asText());
        assertEquals("zeroes", exports.get(2).get("export-name").asText());
        JsonNode ro = exports.get(1);
        assertEquals(SIZE, ro.get("export-size").asLong());
        assertEquals("jdm mapped device 253:1", ro.get("description").asText());
        assertTrue(ro.get("is_read_only").asBoolean());
        assertEquals(false, ro.get("can_trim").asBoolean());
        assertEquals(false, ro.get("can_zero").asBoolean());
        assertEquals("[\"base:allocation\"]", ro.get("contexts").toString());
        assertEquals(1, ro.get("block_size_minimum").asInt());
        assertEquals(4096, ro.get("block_size_preferred").asInt());
        assertEquals(32 * MIB, ro.get("block_size_maximum").asInt());
    }

    @Test
    void nbdinfoCanAndIsFlagsAreTruthful() throws Exception {
        String disk = served.uri("disk");
        String ro = served.uri("ro");
        for (String can : new String[]{"flush", "fua", "trim", "zero", "fast-zero", "df", "multi-conn", "cache", "structured-reply"}) {
            assertEquals(0, Tool.run("nbdinfo", "libnbd-bin", "--can", can, disk).exit(), "--can " + can);
        }
        assertEquals(2, Tool.run("nbdinfo", "libnbd-bin", "--is", "read-only", disk).exit());
        assertEquals(0, Tool.run("nbdinfo", "libnbd-bin", "--is", "read-only", ro).exit());
        assertEquals(2, Tool.run("nbdinfo", "libnbd-bin", "--can", "trim", ro).exit());
        assertEquals(2, Tool.run("nbdinfo", "libnbd-bin", "--can", "zero", ro).exit());
        assertEquals(2, Tool.run("nbdinfo", "libnbd-bin", "--is", "rotational", disk).exit());
    }

    @Test
    void nbdinfoMapShowsHolesAndDataExactly() throws Exception {
        assertEquals("""
                         0     3145728    3  hole,zero
                   3145728       65536    0  data
                   3211264     6225920    3  hole,zero
                   9437184        4096    0  data
                   9441280     7335936    3  hole,zero
                """, Tool.run("nbdinfo", "libnbd-bin", "--map", served.uri("disk")).ok().out());
        assertEquals("""
                         0    16777216    3  hole,zero
                """, Tool.run("nbdinfo", "libnbd-bin", "--map", served.uri("zeroes")).ok().out());
    }

    @Test
    void nbdcopyRoundTripsByteForByte() throws Exception {
        Path source = dir.resolve("source.raw");
        byte[] content = pattern(SIZE, 3);
        java.util.Arrays.fill(content, 4 * MIB, 8 * MIB, (byte) 0); // a zero run nbdcopy may send as a zero request
        Files.write(source, content);
        Tool.run("nbdcopy", "libnbd-bin", source.toString(), served.uri("disk")).ok();
        Path back = dir.resolve("back.raw");
        Tool.run("nbdcopy", "libnbd-bin", served.uri("disk"), back.toString()).ok();
        assertArrayEquals(content, Files.readAllBytes(back));
        // Export to export, several connections in parallel (multi-conn).
        served.linear("copy", SIZE, false);
        Tool.run("nbdcopy", "libnbd-bin", "--connections=4", served.uri("disk"), served.uri("copy")).ok();
        Tool.run("nbdcopy", "libnbd-bin", served.uri("copy"), dir.resolve("copy.raw").toString()).ok();
        assertArrayEquals(content, Files.readAllBytes(dir.resolve("copy.raw")));
    }

    @Test
    void qemuImgInfoCompareConvertAndMap() throws Exception {
        String uri = served.uri("disk");
        JsonNode info = JSON.readTree(Tool.run("qemu-img", "qemu-utils", "info", "--output=json", uri).ok().out());
        assertEquals(SIZE, info.get("virtual-size").asLong());
        assertEquals("raw", info.get("format").asText());
        Path local = dir.resolve("local.raw");
        Tool.run("qemu-img", "qemu-utils", "convert", "-f", "raw", "-O", "raw", uri, local.toString()).ok();
        assertEquals("Images are identical.\n", Tool.run("qemu-img", "qemu-utils", "compare", "-f", "raw", "-F", "raw", local.toString(), uri).ok().out());
        byte[] expected = new byte[SIZE];
        System.arraycopy(pattern(64 << 10, 1), 0, expected, 3 * MIB, 64 << 10);
        System.arraycopy(pattern(4096, 2), 0, expected, 9 * MIB, 4096);
        assertArrayEquals(expected, Files.readAllBytes(local));
        // Converting into the export writes it; compare tells a difference by its offset.
        Path other = dir.resolve("other.raw");
        byte[] otherContent = pattern(SIZE, 4);
        Files.write(other, otherContent);
        Tool missing = Tool.run("qemu-img", "qemu-utils", "convert", "-n", "-f", "raw", "-O", "raw", other.toString(), served.uri("absent"));
        assertEquals(1, missing.exit());
        assertTrue(missing.err().contains("export 'absent' does not exist"), missing.err());
        served.linear("target", SIZE, false);
        Tool.run("qemu-img", "qemu-utils", "convert", "-n", "-f", "raw", "-O", "raw", other.toString(), served.uri("target")).ok();
        assertEquals("Images are identical.\n", Tool.run("qemu-img", "qemu-utils", "compare", "-f", "raw", "-F", "raw", other.toString(), served.uri("target")).ok().out());
        Tool differ = Tool.run("qemu-img", "qemu-utils", "compare", "-f", "raw", "-F", "raw", local.toString(), served.uri("target"));
        assertEquals(1, differ.exit());
        assertEquals("Content mismatch at offset 0!\n", differ.out());
        JsonNode map = JSON.readTree(Tool.run("qemu-img", "qemu-utils", "map", "--output=json", "-f", "raw", uri).ok().out());
        long[][] expectedMap = {{0, 3 * MIB, 1}, {3 * MIB, 64 << 10, 0}, {3 * MIB + (64 << 10), 6 * MIB - (64 << 10), 1},
                {9 * MIB, 4096, 0}, {9 * MIB + 4096, 7 * MIB - 4096, 1}};
        assertEquals(expectedMap.length, map.size(), map.toString());
        for (int i = 0; i < expectedMap.length; i++) {
            JsonNode e = map.get(i);
            assertEquals(expectedMap[i][0], e.get("start").asLong(), e.toString());
            assertEquals(expectedMap[i][1], e.get("length").asLong(), e.toString());
            assertEquals(expectedMap[i][2] == 1, e.get("zero").asBoolean(), e.toString());
            assertEquals(expectedMap[i][2] == 0, e.get("data").asBoolean(), e.toString());
        }
    }

    @Test
    void qemuIoWritesAndPatternCheckedReads() throws Exception {
        String uri = served.uri("disk");
        Tool w = Tool.run("qemu-io", "qemu-utils", "-f", "raw", "-c", "write -P 0xab 0 64k", "-c", "read -P 0xab 0 64k",
                "-c", "write -z 1M 128k", "-c", "read -P 0 1M 128k", "-c", "aio_write -P 0x11 2M 4k", "-c", "aio_flush",
                "-c", "read -P 0x11 2M 4k", uri).ok();
        assertTrue(w.out().contains("wrote 65536/65536 bytes at offset 0"), w.out());
        assertTrue(w.out().contains("read 65536/65536 bytes at offset 0"), w.out());
        assertTrue(w.out().contains("read 4096/4096 bytes at offset 2097152"), w.out());
        assertTrue(!w.out().contains("Pattern verification failed"), w.out());
        Tool mismatch = Tool.run("qemu-io", "qemu-utils", "-f", "raw", "-c", "read -P 0xcd 0 64k", uri);
        assertTrue(mismatch.out().contains("Pattern verification failed at offset 0, 65536 bytes"), mismatch.out());
        byte[] onServer = new byte[64 << 10];
        served.dm.device("disk").read(0, ByteBuffer.wrap(onServer));
        byte[] ab = new byte[64 << 10];
        java.util.Arrays.fill(ab, (byte) 0xab);
        assertArrayEquals(ab, onServer);
        Tool denied = Tool.run("qemu-io", "qemu-utils", "-f", "raw", "-c", "write -P 0xab 0 4k", served.uri("ro"));
        // qemu sees the read-only flag and refuses to open the export for writing at all.
        assertEquals(1, denied.exit());
        assertTrue(denied.err().contains("Could not open image: Permission denied"), denied.err());
    }

    @Test
    void fioNbdEngineVerifiesCrc32cAtQueueDepth32() throws Exception {
        Tool engines = Tool.run("fio", "fio", "--enghelp");
        assertTrue(engines.out().contains("nbd"), "Debian's fio must have the nbd ioengine: " + engines.out());
        Tool fio = Tool.run("fio", "fio", "--name=verify", "--ioengine=nbd", "--uri=" + served.uri("disk"), "--rw=randwrite",
                "--bs=4k", "--iodepth=32", "--size=" + SIZE, "--verify=crc32c", "--do_verify=1", "--verify_fatal=1", "--verify_state_save=0",
                "--output-format=json").ok();
        JsonNode job = JSON.readTree(fio.out().substring(fio.out().indexOf('{'))).get("jobs").get(0);
        assertEquals(0, job.get("error").asInt());
        assertEquals(SIZE, job.get("write").get("io_bytes").asLong());
        assertEquals(SIZE, job.get("read").get("io_bytes").asLong(), "the verify pass reads everything back");
    }
}
