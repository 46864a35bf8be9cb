package dev.jdm.formats.verity;

import dev.jdm.targets.verity.FecLayout;
import dev.jdm.targets.verity.ReedSolomon;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.LongStream;

/**
 * Writes or checks the FEC parity of a whole verity volume (veritysetup's VERITY_FEC_process), with the
 * layout the kernel reads ({@link FecLayout}). Rounds are independent, so they run in parallel.
 */
final class FecCodec {
    private final FecLayout layout;
    private final ReedSolomon rs;
    private final FileChannel data;
    private final long dataBlocks;
    private final FileChannel hash;
    private final long hashOffsetBlock;

    /**
     * @param hashOffsetBlock where the protected part of the hash device starts, in blocks (the tree start:
     *                        the superblock is not protected)
     */
    FecCodec(FecLayout layout, FileChannel data, long dataBlocks, FileChannel hash, long hashOffsetBlock) {
        this.layout = layout;
        this.rs = new ReedSolomon(layout.roots());
        this.data = data;
        this.dataBlocks = dataBlocks;
        this.hash = hash;
        this.hashOffsetBlock = hashOffsetBlock;
    }

    /** Writes the parity of every round at {@code fecOffset} on {@code fec}. */
    void encode(FileChannel fec, long fecOffset) throws IOException {
        forEachRound(round -> {
            byte[][] blocks = readRound(round);
            byte[] parity = new byte[layout.parityBytesPerRound()];
            rs.encodeColumns(blocks, 0, layout.blockSize(), parity);
            HashTreeBuilder.writeFully(fec, ByteBuffer.wrap(parity), fecOffset + layout.parityOffset(round));
        });
    }

    /**
     * Decodes every codeword against the stored parity (veritysetup verify's FEC pass).
     *
     * @return the number of bytes the code would correct
     * @throws VerityException when some codeword is beyond repair, naming the first such round
     */
    long check(FileChannel fec, long fecOffset) throws IOException {
        AtomicLong errors = new AtomicLong();
        AtomicLong firstBadRound = new AtomicLong(Long.MAX_VALUE);
        forEachRound(round -> {
            byte[][] blocks = readRound(round);
            byte[] parity = new byte[layout.parityBytesPerRound()];
            HashTreeBuilder.readFully(fec, ByteBuffer.wrap(parity), fecOffset + layout.parityOffset(round));
            byte[] codeword = new byte[ReedSolomon.N];
            int rsn = layout.rsn();
            for (int col = 0; col < layout.blockSize(); col++) {
                for (int i = 0; i < rsn; i++) {
                    codeword[i] = blocks[i][col];
                }
                System.arraycopy(parity, col * layout.roots(), codeword, rsn, layout.roots());
                int n = rs.decode(codeword, new int[0], 0);
                if (n < 0) {
                    firstBadRound.accumulateAndGet(round, Math::min);
                    return;
                }
                errors.addAndGet(n);
            }
        });
        if (firstBadRound.get() != Long.MAX_VALUE) {
            throw new VerityException("Failed to repair parity for block " + firstBadRound.get()
                    + ".\nErrors cannot be repaired with FEC device.");
        }
        return errors.get();
    }

    private interface RoundAction {
        void run(long round) throws IOException;
    }

    private void forEachRound(RoundAction action) throws IOException {
        try {
            LongStream.range(0, layout.rounds()).parallel().forEach(round -> {
                try {
                    action.run(round);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
    }

    /** The rsn blocks of a round; blocks past the protected area stay zero, as veritysetup assumes. */
    private byte[][] readRound(long round) throws IOException {
        int bs = layout.blockSize();
        byte[][] blocks = new byte[layout.rsn()][bs];
        for (int i = 0; i < blocks.length; i++) {
            long b = layout.blockAt(round, i);
            if (b >= layout.fecBlocks()) {
                continue;
            }
            if (b < dataBlocks) {
                HashTreeBuilder.readFully(data, ByteBuffer.wrap(blocks[i]), b * bs);
            } else {
                HashTreeBuilder.readFully(hash, ByteBuffer.wrap(blocks[i]), (b - dataBlocks + hashOffsetBlock) * bs);
            }
        }
        return blocks;
    }
}
