package dev.jdm.formats.verity;

import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.engine.MappedDevice;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * jdm's verity format/verify/dump/open against veritysetup's on the same inputs: same bytes on disk,
 * same root hash, same reports, and each tool accepts the other's images.
 */
class VeritysetupConformanceTest {
    private static final String UUID = "5b1e8a2c-3d4f-4a6b-8c9d-0e1f2a3b4c5d";

    @TempDir
    Path dir;

    /** One veritysetup option set; {@code sameFile} puts the tree (and FEC) after the data in one image. */
    record Case(String name, String hash, int dataBlockSize, int hashBlockSize, int format, String salt,
                long dataBytes, boolean noSuperblock, boolean sameFile, int fecRoots, boolean fecOnHash) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Stream<Case> cases() {
        return Stream.of(
                new Case("sha256 4096/4096 v1 salt", "sha256", 4096, 4096, 1, "00ff11aa", 1 << 20, false, false, 0, false),
                new Case("sha1 512/1024 v1 no salt", "sha1", 512, 1024, 1, "-", 300 * 512, false, false, 0, false),
                new Case("sha512 1024/512 v0 salt", "sha512", 1024, 512, 0, "deadbeef", 777 * 1024, false, false, 0, false),
                new Case("sha256 4096/1024 v0 no salt, hash-offset on data device", "sha256", 4096, 1024, 0, "-", 64 * 4096, false, true, 0, false),
                new Case("sha256 1024/4096 no superblock", "sha256", 1024, 4096, 1, "0102", 2000 * 1024, true, false, 0, false),
                new Case("sha1 4096 FEC roots 2", "sha1", 4096, 4096, 1, "abcd", 600 * 4096, false, false, 2, false),
                new Case("sha256 1024 FEC roots 5 on the hash device", "sha256", 1024, 1024, 1, "ab", 1000 * 1024, false, false, 5, true));
    }

    private Path data(Case c) throws Exception {
        byte[] bytes = new byte[(int) c.dataBytes];
        new Random(c.name.hashCode()).nextBytes(bytes);
        Path data = dir.resolve("data-" + Math.abs(c.name.hashCode()) + ".img");
        Files.write(data, bytes);
        return data;
    }

    private long hashOffset(Case c) {
        return c.sameFile ? c.dataBytes + 8192 : 0;
    }

    private VerityOptions options(Case c, Path fec) {
        VerityOptions o = VerityOptions.defaults().withHash(c.hash).withDataBlockSize(c.dataBlockSize)
                .withHashBlockSize(c.hashBlockSize).withFormat(c.format).withSalt(c.salt)
                .withNoSuperblock(c.noSuperblock).withUuid(c.noSuperblock ? null : UUID)
                .withHashOffset(hashOffset(c));
        if (c.sameFile) {
            o = o.withDataBlocks(c.dataBytes / c.dataBlockSize);
        }
        if (fec != null) {
            o = o.withFecDevice(fec).withFecRoots(c.fecRoots).withFecOffset(c.fecOnHash ? 1 << 20 : 0);
        }
        return o;
    }

    private List<String> cliOptions(Case c, Path fec) {
        List<String> args = new ArrayList<>(List.of("--hash", c.hash, "--data-block-size", "" + c.dataBlockSize,
                "--hash-block-size", "" + c.hashBlockSize, "--format", "" + c.format, "--salt", c.salt,
                "--hash-offset", "" + hashOffset(c)));
        if (c.noSuperblock) {
            args.add("--no-superblock");
        } else {
            args.addAll(List.of("--uuid", UUID));
        }
        if (c.sameFile) {
            args.addAll(List.of("--data-blocks", "" + c.dataBytes / c.dataBlockSize));
        }
        if (fec != null) {
            args.addAll(List.of("--fec-device", fec.toString(), "--fec-roots", "" + c.fecRoots,
                    "--fec-offset", "" + (c.fecOnHash ? 1 << 20 : 0)));
        }
        return args;
    }

    private Tool veritysetup(String action, List<String> options, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("veritysetup", action));
        cmd.addAll(options);
        cmd.addAll(List.of(args));
        return Tool.run(dir, cmd.toArray(String[]::new));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void jdmImagesAreByteForByteVeritysetupImages(Case c) throws Exception {
        Tool.require("veritysetup");
        Path data = data(c);
        Path theirs = c.sameFile ? Files.copy(data, dir.resolve("theirs.img")) : dir.resolve("theirs-hash.img");
        Path ours = c.sameFile ? Files.copy(data, dir.resolve("ours.img")) : dir.resolve("ours-hash.img");
        Path theirFec = c.fecRoots == 0 ? null : c.fecOnHash ? theirs : dir.resolve("theirs-fec.img");
        Path ourFec = c.fecRoots == 0 ? null : c.fecOnHash ? ours : dir.resolve("ours-fec.img");
        Path theirData = c.sameFile ? theirs : data;
        Path ourData = c.sameFile ? ours : data;
        if (c.fecOnHash) {
            // a hash partition with room for the parity after the tree
            Files.write(theirs, new byte[2 << 20]);
            Files.write(ours, new byte[2 << 20]);
        }

        Tool made = veritysetup("format", cliOptions(c, theirFec), theirData.toString(), theirs.toString());
        assertEquals(0, made.exitCode(), made.stderr());
        Veritysetup.Result result = Veritysetup.format(ourData, ours, options(c, ourFec));

        assertEquals(made.field("Root hash"), result.rootHashHex());
        assertEquals(made.stdout().replace(theirs.toString(), ours.toString()), result.report());
        assertArrayEquals(Files.readAllBytes(theirs), Files.readAllBytes(ours), "hash image");
        if (ourFec != null && !c.fecOnHash) {
            assertArrayEquals(Files.readAllBytes(theirFec), Files.readAllBytes(ourFec), "FEC image");
        }

        // each tool accepts the other's image
        Tool verify = veritysetup("verify", verifyOptions(c, ourFec), ourData.toString(), ours.toString(), result.rootHashHex());
        assertEquals(0, verify.exitCode(), verify.stderr());
        assertArrayEquals(result.rootHash(),
                Veritysetup.verify(theirData, theirs, made.field("Root hash"), verifyOptions(c, theirFec, true)).rootHash());

        if (!c.noSuperblock) {
            Tool dump = veritysetup("dump", dumpOptions(c, ourFec), ours.toString());
            assertEquals(0, dump.exitCode(), dump.stderr());
            assertEquals(dump.stdout(), Veritysetup.dump(ours, dumpOptions(c, ourFec, true)));
        }
    }

    /** verify/open need only the options the header does not carry. */
    private List<String> verifyOptions(Case c, Path fec) {
        if (c.noSuperblock) {
            return cliOptions(c, fec);
        }
        return dumpOptions(c, fec);
    }

    private VerityOptions verifyOptions(Case c, Path fec, boolean api) {
        if (c.noSuperblock) {
            return options(c, fec);
        }
        return dumpOptions(c, fec, api);
    }

    private List<String> dumpOptions(Case c, Path fec) {
        List<String> args = new ArrayList<>(List.of("--hash-offset", "" + hashOffset(c)));
        if (fec != null) {
            args.addAll(List.of("--fec-device", fec.toString(), "--fec-roots", "" + c.fecRoots,
                    "--fec-offset", "" + (c.fecOnHash ? 1 << 20 : 0)));
        }
        return args;
    }

    private VerityOptions dumpOptions(Case c, Path fec, boolean api) {
        VerityOptions o = VerityOptions.defaults().withHashOffset(hashOffset(c));
        if (fec != null) {
            o = o.withFecDevice(fec).withFecRoots(c.fecRoots).withFecOffset(c.fecOnHash ? 1 << 20 : 0);
        }
        return o;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void veritysetupImagesReadBackThroughTheTarget(Case c) throws Exception {
        Tool.require("veritysetup");
        Path data = data(c);
        Path image = c.sameFile ? Files.copy(data, dir.resolve("one.img")) : dir.resolve("hash.img");
        Path fec = c.fecRoots == 0 ? null : c.fecOnHash ? image : dir.resolve("fec.img");
        Path dataPath = c.sameFile ? image : data;
        if (c.fecOnHash) {
            Files.write(image, new byte[2 << 20]);
        }
        Tool made = veritysetup("format", cliOptions(c, fec), dataPath.toString(), image.toString());
        assertEquals(0, made.exitCode(), made.stderr());
        String table = Veritysetup.open(dataPath, image, made.field("Root hash"), verifyOptions(c, fec, true));
        try (DeviceMapper dm = DeviceMapper.create()) {
            dm.create("v", null, table, true);
            MappedDevice md = dm.device("v");
            byte[] expected = Arrays.copyOf(Files.readAllBytes(data), (int) c.dataBytes);
            ByteBuffer got = ByteBuffer.allocate((int) c.dataBytes);
            md.read(0, got);
            assertArrayEquals(expected, got.array());
            assertEquals("0 " + c.dataBytes / 512 + " verity " + (c.fecRoots == 0 ? "V -" : "V 0"),
                    dm.status("v", false).get(0).format());
            if (fec == null) {
                assertEquals(table, dm.table("v", false).get(0).format());
            }
        }
    }

    @Test
    void openBuildsVeritysetupsTableLine() throws Exception {
        Tool.require("veritysetup");
        Path data = dir.resolve("d.img");
        Files.write(data, new byte[256 * 4096]);
        Path hash = dir.resolve("h.img");
        Path fec = dir.resolve("f.img");
        Tool made = Tool.run(dir, "veritysetup", "format", "--salt", "0a0b", "--fec-device", fec.toString(), "--fec-roots", "3",
                data.toString(), hash.toString());
        assertEquals(0, made.exitCode(), made.stderr());
        String root = made.field("Root hash");
        String table = Veritysetup.open(data, hash, root, VerityOptions.defaults().withFecDevice(fec).withFecRoots(3)
                .withActivation(java.util.Set.of(VerityOptions.Activation.IGNORE_ZERO_BLOCKS,
                        VerityOptions.Activation.PANIC_ON_CORRUPTION, VerityOptions.Activation.IGNORE_CORRUPTION)));
        assertEquals("0 2048 verity 1 " + data + " " + hash + " 4096 4096 256 1 sha256 " + root + " 0a0b"
                + " 10 panic_on_corruption ignore_zero_blocks use_fec_from_device " + fec
                + " fec_start 0 fec_blocks 259 fec_roots 3", table);
        try (DeviceMapper dm = DeviceMapper.create()) {
            dm.create("v", null, table, true);
            // the kernel prints fec_blocks before fec_start, veritysetup writes them the other way round
            assertEquals("0 2048 verity 1 " + data + " " + hash + " 4096 4096 256 1 sha256 " + root + " 0a0b"
                    + " 10 panic_on_corruption ignore_zero_blocks use_fec_from_device " + fec
                    + " fec_blocks 259 fec_start 0 fec_roots 3", dm.table("v", false).get(0).format());
            assertEquals("0 2048 verity V 0", dm.status("v", false).get(0).format());
        }
        VerityException bad = assertThrows(VerityException.class,
                () -> Veritysetup.open(data, hash, root.substring(2), VerityOptions.defaults()));
        assertEquals("Invalid root hash string specified.", bad.getMessage());
    }
}
