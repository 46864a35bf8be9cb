package dev.jdm.formats.luks;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static dev.jdm.formats.luks.CryptsetupMadeVolumesTest.sparseFile;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** LUKS2 metadata jdm does not use itself (tokens, priorities, sequence ids) is honoured and preserved. */
class Luks2MetadataTest {

    private static final byte[] FIRST = "first".getBytes(StandardCharsets.UTF_8);
    private static final byte[] SECOND = "second".getBytes(StandardCharsets.UTF_8);

    @TempDir
    Path dir;

    private Path cryptsetupVolumeWithTwoSlots() throws Exception {
        Path image = sparseFile(dir.resolve("meta.img"));
        Cryptsetup.run(FIRST, "luksFormat", "--batch-mode", "--type", "luks2", "--pbkdf", "pbkdf2",
                "--pbkdf-force-iterations", "1000", "--key-file", "-", image.toString()).ok();
        Cryptsetup.run("first\nsecond\n".getBytes(StandardCharsets.UTF_8), "luksAddKey", "--batch-mode", "--pbkdf",
                "pbkdf2", "--pbkdf-force-iterations", "1000", image.toString()).ok();
        return image;
    }

    @Test
    void priorityIgnoreSlotsOpenOnlyWhenNamed() throws Exception {
        Path image = cryptsetupVolumeWithTwoSlots();
        Cryptsetup.run(null, "config", "--priority", "ignore", "--key-slot", "1", image.toString()).ok();
        Cryptsetup.run(null, "config", "--priority", "prefer", "--key-slot", "0", image.toString()).ok();
        LuksDevice device = LuksDevice.of(image);
        assertEquals(Cryptsetup.run(null, "luksDump", image.toString()).ok().stdout(), Luks.dump(device));
        assertEquals("No key available with this passphrase.",
                assertThrows(LuksException.class, () -> Luks.testPassphrase(device, SECOND, -1)).getMessage());
        assertEquals(1, Luks.testPassphrase(device, SECOND, 1));
        assertEquals(0, Luks.testPassphrase(device, FIRST, -1));
    }

    @Test
    void tokensSurviveKeyslotChangesAndLoseRemovedSlots() throws Exception {
        Path image = cryptsetupVolumeWithTwoSlots();
        Path token = Files.writeString(dir.resolve("token.json"),
                "{\"type\":\"jdm-test\",\"keyslots\":[\"0\",\"1\"],\"note\":\"kept as is\"}");
        Cryptsetup.run(null, "token", "import", "--json-file", token.toString(), image.toString()).ok();
        LuksDevice device = LuksDevice.of(image);

        assertEquals(0, Luks.removeKey(device, FIRST));
        String dump = Cryptsetup.run(null, "luksDump", image.toString()).ok().stdout();
        assertEquals(dump, Luks.dump(device));
        assertTrue(dump.contains("Tokens:\n  0: jdm-test\n\tKeyslot:    1\nDigests:"), dump);
        String json = Cryptsetup.run(null, "luksDump", "--dump-json-metadata", image.toString()).ok().stdout();
        assertTrue(json.contains("\"note\":\"kept as is\""), json);
        assertEquals(json.strip(), Luks.dumpJson(device));
    }

    /** An interrupted update leaves the copies at different sequence ids: the newer one wins, as in cryptsetup. */
    @Test
    void olderSecondaryCopyIsReportedAndTheNewerUsed() throws Exception {
        Path image = cryptsetupVolumeWithTwoSlots();
        byte[] oldSecondary = new byte[16384];
        try (RandomAccessFile file = new RandomAccessFile(image.toFile(), "r")) {
            file.seek(16384);
            file.readFully(oldSecondary);
        }
        LuksDevice device = LuksDevice.of(image);
        int added = Luks.addKey(device, FIRST, "third".getBytes(StandardCharsets.UTF_8), -1,
                JdmMadeVolumesTest.FAST_PBKDF2);
        String epoch = Cryptsetup.field(Luks.dump(device), "Epoch:");
        try (RandomAccessFile file = new RandomAccessFile(image.toFile(), "rw")) {
            file.seek(16384);
            file.write(oldSecondary);
        }
        List<String> problems = new java.util.ArrayList<>();
        assertEquals(HeaderCopy.PRIMARY, Luks.inspect(device, problems));
        assertEquals(List.of("secondary header is older (seqid " + (Long.parseLong(epoch) - 1) + " < " + epoch + ")"),
                problems);
        assertEquals(added, Luks.testPassphrase(device, "third".getBytes(StandardCharsets.UTF_8), -1));
    }
}
