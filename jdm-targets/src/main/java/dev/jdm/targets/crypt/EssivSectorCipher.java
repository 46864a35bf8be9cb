package dev.jdm.targets.crypt;

/**
 * {@code essiv:<hash>} (the kernel's essiv template): the IV handed in (the little-endian sector
 * number) is first encrypted with the same block cipher keyed by {@code hash(key)}, then the inner
 * chain mode runs with that.
 */
final class EssivSectorCipher implements SectorCipher {
    private final SectorCipher inner;
    private final BlockPrimitive salted;
    private final byte[] iv = new byte[BlockPrimitive.BLOCK_SIZE];

    EssivSectorCipher(SectorCipher inner, BlockPrimitive salted) {
        this.inner = inner;
        this.salted = salted;
    }

    @Override
    public void encrypt(byte[] src, int srcOff, byte[] dst, int dstOff, int len, byte[] sectorIv) {
        salted.encrypt(sectorIv, 0, iv, 0, BlockPrimitive.BLOCK_SIZE);
        inner.encrypt(src, srcOff, dst, dstOff, len, iv);
    }

    @Override
    public void decrypt(byte[] buf, int off, int len, byte[] sectorIv) {
        salted.encrypt(sectorIv, 0, iv, 0, BlockPrimitive.BLOCK_SIZE);
        inner.decrypt(buf, off, len, iv);
    }

    @Override
    public void wipe() {
        inner.wipe();
        salted.wipe();
    }
}
