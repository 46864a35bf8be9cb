package dev.jdm.formats.luks;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class PassphraseSourceTest {

    private static byte[] ascii(String text) {
        return text.getBytes(StandardCharsets.US_ASCII);
    }

    @Test
    void keyFileIsReadWhole(@TempDir Path dir) throws Exception {
        Path file = Files.write(dir.resolve("key"), ascii("secret\nwith newline\n"));
        assertArrayEquals(ascii("secret\nwith newline\n"), PassphraseSource.fromKeyFile(file, 0, 0));
    }

    @Test
    void keyfileOffsetAndSize(@TempDir Path dir) throws Exception {
        Path file = Files.write(dir.resolve("key"), ascii("0123456789abcdef"));
        assertArrayEquals(ascii("456"), PassphraseSource.fromKeyFile(file, 4, 3));
        assertArrayEquals(ascii("cdef"), PassphraseSource.fromKeyFile(file, 12, 0));
        assertEquals("Cannot read requested amount of data.",
                assertThrows(LuksException.class, () -> PassphraseSource.fromKeyFile(file, 10, 7)).getMessage());
        assertEquals("Cannot seek to requested keyfile offset.",
                assertThrows(LuksException.class, () -> PassphraseSource.fromKeyFile(file, 17, 0)).getMessage());
    }

    @Test
    void keyFileOverTheDefaultLimitIsRefused() throws Exception {
        byte[] big = new byte[(int) PassphraseSource.DEFAULT_KEYFILE_MAX + 1];
        assertEquals("Maximum keyfile size exceeded.", assertThrows(LuksException.class,
                () -> PassphraseSource.fromKeyFile(new ByteArrayInputStream(big), 0, 0)).getMessage());
        assertEquals(PassphraseSource.DEFAULT_KEYFILE_MAX, PassphraseSource.fromKeyFile(
                new ByteArrayInputStream(big, 1, big.length - 1), 0, 0).length);
    }

    @Test
    void stdinKeyFileKeepsNewlinesAndStdinLineDropsThem() throws Exception {
        assertArrayEquals(ascii("pass\nmore\n"),
                PassphraseSource.fromKeyFile(new ByteArrayInputStream(ascii("pass\nmore\n")), 0, 0));
        assertArrayEquals(ascii("pass"),
                PassphraseSource.fromStdinLine(new ByteArrayInputStream(ascii("pass\nmore\n"))));
        assertArrayEquals(ascii("no newline"),
                PassphraseSource.fromStdinLine(new ByteArrayInputStream(ascii("no newline"))));
    }

    @Test
    void charsBecomeUtf8AndAreWiped() {
        char[] typed = "pässword".toCharArray();
        assertArrayEquals("pässword".getBytes(StandardCharsets.UTF_8), PassphraseSource.fromChars(typed));
        assertArrayEquals(new char[8], typed);
    }
}
