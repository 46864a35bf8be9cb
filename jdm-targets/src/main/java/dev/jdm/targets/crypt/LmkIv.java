package dev.jdm.targets.crypt;

import org.bouncycastle.crypto.digests.MD5Digest;

import java.util.Arrays;

/**
 * {@code lmk}: loop-AES. The IV is the raw MD5 state (no final padding) over an optional 64-byte
 * seed, plaintext bytes 16..511 and the sector number; the first plaintext block is left out of the
 * hash, so reads decrypt with a zero IV and then XOR the hash-derived IV into the first block.
 * Bouncy Castle's MD5 is used because it can hand out its intermediate state.
 */
final class LmkIv implements IvGenerator {
    private static final int SEED_SIZE = 64;
    /** Offset of H1..H4 (big-endian) in MD5Digest.getEncodedState(), after xBuf, xBufOff and byteCount. */
    private static final int ENCODED_STATE_H1 = 16;
    private static final int SECTOR = 512;

    /** 64 bytes (the key part, zero padded) or null for loop-AES version 2. */
    private final byte[] seed;

    LmkIv(byte[] seedKeyPart) {
        if (seedKeyPart == null) {
            seed = null;
        } else {
            seed = new byte[SEED_SIZE];
            System.arraycopy(seedKeyPart, 0, seed, 0, Math.min(seedKeyPart.length, 16));
        }
    }

    @Override
    public void before(long ivSector, byte[] iv, byte[] data, int off, boolean writing, SectorCipher firstKey) {
        if (writing) {
            hash(ivSector, iv, data, off);
        } else {
            Arrays.fill(iv, (byte) 0);
        }
    }

    @Override
    public void after(long ivSector, byte[] iv, byte[] data, int off, boolean writing) {
        if (!writing) {
            byte[] tweak = new byte[iv.length];
            hash(ivSector, tweak, data, off);
            for (int i = 0; i < tweak.length; i++) {
                data[off + i] ^= tweak[i];
            }
        }
    }

    private void hash(long sector, byte[] out, byte[] data, int off) {
        MD5Digest md5 = new MD5Digest();
        if (seed != null) {
            md5.update(seed, 0, SEED_SIZE);
        }
        md5.update(data, off + 16, SECTOR - 16);
        byte[] tail = new byte[16];
        Bytes.putIntLE(tail, 0, (int) sector);
        // The sector is cut to 56 bits, with the top bit of the second word set.
        Bytes.putIntLE(tail, 4, (int) ((sector >>> 32) & 0x00FF_FFFF) | 0x8000_0000);
        Bytes.putIntLE(tail, 8, 4024);
        md5.update(tail, 0, tail.length);
        byte[] state = md5.getEncodedState();
        for (int i = 0; i < 4; i++) {
            int word = (state[ENCODED_STATE_H1 + 4 * i] & 0xff) << 24 | (state[ENCODED_STATE_H1 + 4 * i + 1] & 0xff) << 16
                    | (state[ENCODED_STATE_H1 + 4 * i + 2] & 0xff) << 8 | (state[ENCODED_STATE_H1 + 4 * i + 3] & 0xff);
            Bytes.putIntLE(out, 4 * i, word);
        }
        Arrays.fill(state, (byte) 0);
    }

    @Override
    public void wipe() {
        if (seed != null) {
            Arrays.fill(seed, (byte) 0);
        }
    }
}
