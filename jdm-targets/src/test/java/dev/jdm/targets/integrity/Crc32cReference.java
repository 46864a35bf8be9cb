package dev.jdm.targets.integrity;

/**
 * CRC-32C (Castagnoli) computed bit by bit from the polynomial, independent of java.util.zip:
 * the reference for tags made with {@code internal_hash:crc32c} (crc = ~0, reflected 0x82F63B78,
 * final ~, stored little-endian over le64(sector) ‖ block).
 */
final class Crc32cReference {
    private Crc32cReference() {
    }

    static int crc32c(byte[] data) {
        int crc = 0xFFFFFFFF;
        for (byte b : data) {
            crc ^= b & 0xff;
            for (int k = 0; k < 8; k++) {
                crc = (crc & 1) != 0 ? (crc >>> 1) ^ 0x82F63B78 : crc >>> 1;
            }
        }
        return ~crc;
    }

    /** The tag dm-integrity stores for a block: crc32c(le64 sector ‖ data) little-endian, zero-padded. */
    static byte[] tag(long sector, byte[] data, int tagSize) {
        byte[] crc = Harness.le32(crc32c(Harness.concat(Harness.le64(sector), data)));
        byte[] t = new byte[tagSize];
        System.arraycopy(crc, 0, t, 0, Math.min(4, tagSize));
        return t;
    }
}
