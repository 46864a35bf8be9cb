package dev.jdm.targets.crypt;

import java.util.Arrays;

/** The IV modes that are a function of the sector number alone. */
enum CounterIv implements IvGenerator {
    /** le32 of the low 32 bits of the sector. */
    PLAIN {
        @Override
        void fill(long sector, byte[] iv) {
            Bytes.putIntLE(iv, 0, (int) sector);
        }
    },
    /** le64 of the sector; also what ESSIV encrypts. */
    PLAIN64 {
        @Override
        void fill(long sector, byte[] iv) {
            Bytes.putLongLE(iv, 0, sector);
        }
    },
    /** be64 of the sector in the last eight bytes. */
    PLAIN64BE {
        @Override
        void fill(long sector, byte[] iv) {
            Bytes.putLongBE(iv, iv.length - 8, sector);
        }
    },
    /** be64 count of 16-byte blocks from 1 ("big-endian narrow-block count"), in the last eight bytes. */
    BENBI {
        /** log2(512 / 16): every cipher here has 16-byte blocks. */
        private static final int BLOCKS_PER_SECTOR_SHIFT = 5;

        @Override
        void fill(long sector, byte[] iv) {
            Bytes.putLongBE(iv, iv.length - 8, (sector << BLOCKS_PER_SECTOR_SHIFT) + 1);
        }
    },
    /** All zero (loop_fish2 compatibility). */
    NULL {
        @Override
        void fill(long sector, byte[] iv) {
        }
    };

    abstract void fill(long sector, byte[] iv);

    @Override
    public void before(long ivSector, byte[] iv, byte[] data, int off, boolean writing, SectorCipher firstKey) {
        Arrays.fill(iv, (byte) 0);
        fill(ivSector, iv);
    }
}
