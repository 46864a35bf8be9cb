package dev.jdm.targets.verity;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/** Salted digests, whichever implementation computes them (libcrypto when installed, else the JDK). */
class BlockHasherTest {

    @Test
    void version1SaltsFirstAndVersion0SaltsLast() throws Exception {
        byte[] block = new byte[4096];
        new Random(9).nextBytes(block);
        byte[] salt = HexFormat.of().parseHex("00ff11aa");
        for (var name : List.of(List.of("sha1", "SHA-1"), List.of("sha256", "SHA-256"), List.of("sha512", "SHA-512"),
                List.of("sha3-256", "SHA3-256"), List.of("md5", "MD5"))) {
            MessageDigest jdk = MessageDigest.getInstance(name.get(1));
            jdk.update(salt);
            byte[] v1 = jdk.digest(block);
            jdk.update(block);
            byte[] v0 = jdk.digest(salt);
            BlockHasher h1 = BlockHasher.forKernelName(name.get(0), 1, salt).orElseThrow();
            BlockHasher h0 = BlockHasher.forKernelName(name.get(0), 0, salt).orElseThrow();
            byte[] out = new byte[h1.digestSize()];
            h1.digest(ByteBuffer.wrap(block), out);
            assertArrayEquals(v1, out, name.get(0) + " v1");
            ByteBuffer direct = ByteBuffer.allocateDirect(block.length).put(block).flip();
            h0.digest(direct, out);
            assertArrayEquals(v0, out, name.get(0) + " v0");
            assertEquals(0, direct.position(), "the block's position is left alone");
        }
    }

    @Test
    void emptySaltAndUnknownNames() {
        BlockHasher h = BlockHasher.forKernelName("sha256", 1, new byte[0]).orElseThrow();
        byte[] out = new byte[32];
        h.digest(new byte[0], 0, 0, out);
        assertEquals("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", HexFormat.of().formatHex(out));
        assertTrue(BlockHasher.forKernelName("whirlpool", 1, new byte[0]).isEmpty());
        assertTrue(BlockHasher.forKernelName("SHA256", 1, new byte[0]).isEmpty(), "the kernel's names are lower-case");
        assertThrows(IllegalArgumentException.class, () -> h.digest(new byte[10], 0, 10, new byte[16]));
    }
}
