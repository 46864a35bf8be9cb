package dev.jdm.targets.crypt;

/** {@code eboiv} (BitLocker): the sector's byte offset, le64, encrypted with key 0's transform as one zero block with that IV. */
final class EboivIv implements IvGenerator {
    private final int sectorSize;

    EboivIv(int sectorSize) {
        this.sectorSize = sectorSize;
    }

    @Override
    public void before(long ivSector, byte[] iv, byte[] data, int off, boolean writing, SectorCipher firstKey) {
        byte[] offsetIv = new byte[iv.length];
        Bytes.putLongLE(offsetIv, 0, ivSector * sectorSize);
        java.util.Arrays.fill(iv, (byte) 0);
        firstKey.encrypt(iv, 0, BlockPrimitive.BLOCK_SIZE, offsetIv);
    }
}
