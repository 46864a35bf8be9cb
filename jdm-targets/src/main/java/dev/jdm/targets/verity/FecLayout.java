package dev.jdm.targets.verity;

/**
 * How dm-verity FEC spreads its Reed-Solomon codewords (dm-verity-fec.c, veritysetup's verity_fec.c).
 *
 * <p>The protected area is a sequence of {@code fecBlocks} blocks: the data blocks, then the hash device
 * from the tree's first block on. It is cut into {@code rounds = ceil(fecBlocks / rsn)} rounds; round
 * {@code r} takes the blocks {@code r, r + rounds, r + 2·rounds, …} (rsn of them, those past the end read
 * as zeros), and byte {@code b} of each of those blocks forms one codeword. So a burst of damaged
 * neighbouring blocks lands in different codewords. Parity for round {@code r}, byte {@code b} is
 * {@code roots} bytes at {@code (r · blockSize + b) · roots} from the start of the FEC area.
 */
public final class FecLayout {
    private final int roots;
    private final int blockSize;
    private final long fecBlocks;
    private final long rounds;

    public FecLayout(int roots, int blockSize, long fecBlocks) {
        if (roots < 2 || roots > 24) {
            throw new IllegalArgumentException("FEC roots must be 2..24");
        }
        if (fecBlocks <= 0) {
            throw new IllegalArgumentException("FEC must cover at least one block");
        }
        this.roots = roots;
        this.blockSize = blockSize;
        this.fecBlocks = fecBlocks;
        long rsn = ReedSolomon.N - roots;
        this.rounds = (fecBlocks + rsn - 1) / rsn;
    }

    public int roots() {
        return roots;
    }

    /** Data bytes per codeword. */
    public int rsn() {
        return ReedSolomon.N - roots;
    }

    public int blockSize() {
        return blockSize;
    }

    public long fecBlocks() {
        return fecBlocks;
    }

    public long rounds() {
        return rounds;
    }

    /** The round a protected block belongs to. */
    public long roundOf(long block) {
        return block % rounds;
    }

    /** The codeword position a protected block occupies in its round. */
    public int indexOf(long block) {
        return (int) (block / rounds);
    }

    /** The protected block at codeword position {@code index} of a round; {@code >= fecBlocks} means zeros. */
    public long blockAt(long round, int index) {
        return index * rounds + round;
    }

    /** Offset of a round's parity, from the start of the FEC area. */
    public long parityOffset(long round) {
        return round * blockSize * roots;
    }

    /** Parity bytes of one round. */
    public int parityBytesPerRound() {
        return blockSize * roots;
    }

    /** Size of the whole FEC area in bytes ({@code rounds · roots} blocks: veritysetup's "FEC blocks"). */
    public long parityBytes() {
        return rounds * roots * blockSize;
    }

    /** FEC area size in blocks. */
    public long parityBlocks() {
        return rounds * roots;
    }
}
