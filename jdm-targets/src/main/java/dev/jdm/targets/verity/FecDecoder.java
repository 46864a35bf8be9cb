package dev.jdm.targets.verity;

import dev.jdm.core.io.BlockDevice;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * Repairs one block of the protected area from the FEC parity (dm-verity-fec.c's
 * {@code verity_fec_decode}): gather the round's rsn blocks, decode every byte column, keep the
 * column's byte at the damaged block's position, and accept the result only if its digest is the one
 * the hash tree expects. A first pass trusts nothing; a second pass marks as erasures the blocks that
 * failed to read or whose digest is wrong, which doubles what the code can correct.
 */
final class FecDecoder {

    /** What the decoder needs from the verity target: the protected blocks and their expected digests. */
    interface ProtectedArea {
        /** Reads protected block {@code block} into {@code dst} (block size bytes); false when the read failed. */
        boolean read(long block, ByteBuffer dst);

        /**
         * Whether a data block's content is known bad (its digest differs from the tree's), {@code null} if
         * the block is not a data block or the tree cannot tell; {@link Boolean#FALSE} for good.
         */
        Boolean corrupt(long block, byte[] content, int depth);

        /** Whether a data block is expected to be all zeroes (ignore_zero_blocks): its bytes are then not read. */
        boolean knownZero(long block, int depth);
    }

    private final FecLayout layout;
    private final ReedSolomon rs;
    private final BlockDevice fecDevice;
    private final long fecStartBytes;
    private final BlockHasher hasher;
    private final ProtectedArea area;

    FecDecoder(FecLayout layout, BlockDevice fecDevice, long fecStartBytes, BlockHasher hasher, ProtectedArea area) {
        this.layout = layout;
        this.rs = new ReedSolomon(layout.roots());
        this.fecDevice = fecDevice;
        this.fecStartBytes = fecStartBytes;
        this.hasher = hasher;
        this.area = area;
    }

    /** The repaired content of protected block {@code block}, or null when FEC cannot produce the wanted digest. */
    byte[] repair(long block, byte[] wantDigest, int depth) {
        int bs = layout.blockSize();
        long round = layout.roundOf(block);
        int target = layout.indexOf(block);
        byte[] parity = new byte[layout.parityBytesPerRound()];
        try {
            fecDevice.read(fecStartBytes + layout.parityOffset(round), ByteBuffer.wrap(parity));
        } catch (IOException e) {
            return null;
        }
        int rsn = layout.rsn();
        byte[][] blocks = new byte[rsn][bs];
        boolean[] unreadable = new boolean[rsn];
        for (int i = 0; i < rsn; i++) {
            long b = layout.blockAt(round, i);
            if (b >= layout.fecBlocks() || area.knownZero(b, depth)) {
                continue; // encoded as zeros
            }
            unreadable[i] = !area.read(b, ByteBuffer.wrap(blocks[i]));
        }
        byte[] out = decode(blocks, parity, target, new int[0]);
        if (out != null && matches(out, wantDigest)) {
            return out;
        }
        int[] erasures = new int[layout.roots()];
        int count = 0;
        for (int i = 0; i < rsn && count < erasures.length; i++) {
            long b = layout.blockAt(round, i);
            if (b >= layout.fecBlocks()) {
                continue;
            }
            if (unreadable[i] || Boolean.TRUE.equals(area.corrupt(b, blocks[i], depth))) {
                erasures[count++] = i;
            }
        }
        if (count == 0) {
            return null;
        }
        out = decode(blocks, parity, target, Arrays.copyOf(erasures, count));
        return out != null && matches(out, wantDigest) ? out : null;
    }

    private byte[] decode(byte[][] blocks, byte[] parity, int target, int[] erasures) {
        int bs = layout.blockSize();
        int roots = layout.roots();
        int rsn = layout.rsn();
        byte[] out = new byte[bs];
        byte[] codeword = new byte[ReedSolomon.N];
        for (int col = 0; col < bs; col++) {
            for (int i = 0; i < rsn; i++) {
                codeword[i] = blocks[i][col];
            }
            System.arraycopy(parity, col * roots, codeword, rsn, roots);
            if (rs.decode(codeword, erasures, erasures.length) < 0) {
                return null;
            }
            out[col] = codeword[target];
        }
        return out;
    }

    private boolean matches(byte[] content, byte[] wantDigest) {
        byte[] real = new byte[hasher.digestSize()];
        hasher.digest(content, 0, content.length, real);
        return Arrays.equals(real, 0, real.length, wantDigest, 0, real.length);
    }
}
