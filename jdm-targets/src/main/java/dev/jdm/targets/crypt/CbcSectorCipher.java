package dev.jdm.targets.crypt;

/** {@code cbc}: each sector chained from its IV. Decryption is parallel: one ECB pass, then XOR with the previous ciphertext block. */
final class CbcSectorCipher implements SectorCipher {
    private final BlockPrimitive block;
    private final byte[] scratch;

    CbcSectorCipher(BlockPrimitive block, int maxSectorSize) {
        this.block = block;
        this.scratch = new byte[maxSectorSize];
    }

    @Override
    public void encrypt(byte[] src, int srcOff, byte[] dst, int dstOff, int len, byte[] iv) {
        System.arraycopy(src, srcOff, dst, dstOff, len);
        block.cbcEncrypt(dst, dstOff, len, iv);
    }

    @Override
    public void decrypt(byte[] buf, int off, int len, byte[] iv) {
        block.decrypt(buf, off, scratch, 0, len);
        // Backwards, so buf still holds the ciphertext block each plaintext block is chained from.
        for (int i = len - BlockPrimitive.BLOCK_SIZE; i >= 0; i -= BlockPrimitive.BLOCK_SIZE) {
            byte[] chain = i == 0 ? iv : buf;
            int chainOff = i == 0 ? 0 : off + i - BlockPrimitive.BLOCK_SIZE;
            Bytes.xor(scratch, i, chain, chainOff, buf, off + i, BlockPrimitive.BLOCK_SIZE);
        }
    }

    @Override
    public void wipe() {
        block.wipe();
    }
}
