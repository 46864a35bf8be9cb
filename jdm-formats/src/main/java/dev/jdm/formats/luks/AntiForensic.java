package dev.jdm.formats.luks;

import java.security.DigestException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Arrays;

/**
 * The LUKS anti-forensic splitter: a key becomes {@code stripes} blocks of which all are needed,
 * so overwriting any small part of a keyslot destroys the key. Each block is XORed into a running
 * buffer which is then "diffused" by hashing it piecewise, each piece prefixed with its big-endian index.
 */
final class AntiForensic {

    private AntiForensic() {
    }

    /** The split material of {@code key.length * stripes} bytes. */
    static byte[] split(byte[] key, int stripes, HashAlgorithm hash, SecureRandom random) {
        int size = key.length;
        byte[] material = new byte[size * stripes];
        byte[] buffer = new byte[size];
        for (int stripe = 0; stripe < stripes - 1; stripe++) {
            byte[] randomBlock = new byte[size];
            random.nextBytes(randomBlock);
            System.arraycopy(randomBlock, 0, material, stripe * size, size);
            xorInto(buffer, material, stripe * size);
            diffuse(buffer, hash);
            Arrays.fill(randomBlock, (byte) 0);
        }
        int last = (stripes - 1) * size;
        for (int i = 0; i < size; i++) {
            material[last + i] = (byte) (key[i] ^ buffer[i]);
        }
        Arrays.fill(buffer, (byte) 0);
        return material;
    }

    /** Recovers the key of {@code keySize} bytes from the first {@code keySize * stripes} bytes of material. */
    static byte[] merge(byte[] material, int keySize, int stripes, HashAlgorithm hash) {
        byte[] buffer = new byte[keySize];
        for (int stripe = 0; stripe < stripes - 1; stripe++) {
            xorInto(buffer, material, stripe * keySize);
            diffuse(buffer, hash);
        }
        int last = (stripes - 1) * keySize;
        byte[] key = new byte[keySize];
        for (int i = 0; i < keySize; i++) {
            key[i] = (byte) (material[last + i] ^ buffer[i]);
        }
        Arrays.fill(buffer, (byte) 0);
        return key;
    }

    private static void xorInto(byte[] buffer, byte[] source, int offset) {
        for (int i = 0; i < buffer.length; i++) {
            buffer[i] ^= source[offset + i];
        }
    }

    /** Hashes the buffer in digest-sized pieces; a short last piece keeps only the first bytes of its hash. */
    private static void diffuse(byte[] buffer, HashAlgorithm hash) {
        MessageDigest digest = hash.newDigest();
        int digestSize = digest.getDigestLength();
        byte[] out = new byte[digestSize];
        try {
            for (int piece = 0, offset = 0; offset < buffer.length; piece++, offset += digestSize) {
                int length = Math.min(digestSize, buffer.length - offset);
                digest.update(new byte[] {(byte) (piece >>> 24), (byte) (piece >>> 16), (byte) (piece >>> 8),
                    (byte) piece});
                digest.update(buffer, offset, length);
                digest.digest(out, 0, digestSize);
                System.arraycopy(out, 0, buffer, offset, length);
            }
        } catch (DigestException e) {
            throw new IllegalStateException(e);
        } finally {
            Arrays.fill(out, (byte) 0);
        }
    }
}
