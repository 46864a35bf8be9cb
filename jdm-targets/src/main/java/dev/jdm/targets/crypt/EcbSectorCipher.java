package dev.jdm.targets.crypt;

/** {@code ecb}: every block on its own, no IV. */
final class EcbSectorCipher implements SectorCipher {
    private final BlockPrimitive block;
    private final byte[] scratch;

    EcbSectorCipher(BlockPrimitive block, int maxSectorSize) {
        this.block = block;
        this.scratch = new byte[maxSectorSize];
    }

    @Override
    public void encrypt(byte[] src, int srcOff, byte[] dst, int dstOff, int len, byte[] iv) {
        if (src == dst && srcOff == dstOff) {
            System.arraycopy(src, srcOff, scratch, 0, len);
            block.encrypt(scratch, 0, dst, dstOff, len);
        } else {
            block.encrypt(src, srcOff, dst, dstOff, len);
        }
    }

    @Override
    public void decrypt(byte[] buf, int off, int len, byte[] iv) {
        System.arraycopy(buf, off, scratch, 0, len);
        block.decrypt(scratch, 0, buf, off, len);
    }

    @Override
    public void wipe() {
        block.wipe();
    }
}
