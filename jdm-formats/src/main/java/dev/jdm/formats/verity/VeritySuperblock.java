package dev.jdm.formats.verity;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Locale;
import java.util.UUID;

/**
 * veritysetup's 512-byte on-disk header (lib/verity/verity.c {@code struct verity_sb}), little-endian, at
 * the hash offset. The kernel never reads it; veritysetup and jdm use it to rebuild the table.
 *
 * <pre>
 *   0 signature[8] "verity\0\0"   8 u32 version (1)   12 u32 hash_type (0 Chrome OS, 1 normal)
 *  16 uuid[16]                    32 algorithm[32]    64 u32 data_block_size   68 u32 hash_block_size
 *  72 u64 data_blocks             80 u16 salt_size    82 pad[6]   88 salt[256]   344 pad[168]
 * </pre>
 */
public record VeritySuperblock(int hashType, UUID uuid, String algorithm, int dataBlockSize, int hashBlockSize,
                               long dataBlocks, byte[] salt) {
    public static final int SIZE = 512;
    private static final byte[] SIGNATURE = {'v', 'e', 'r', 'i', 't', 'y', 0, 0};
    private static final int MAX_SALT = 256;
    private static final int ALGORITHM_BYTES = 32;

    public VeritySuperblock {
        salt = salt.clone();
        if (salt.length > MAX_SALT) {
            throw new IllegalArgumentException("salt longer than 256 bytes");
        }
    }

    @Override
    public byte[] salt() {
        return salt.clone();
    }

    public byte[] encode() {
        ByteBuffer b = ByteBuffer.allocate(SIZE).order(ByteOrder.LITTLE_ENDIAN);
        b.put(SIGNATURE);
        b.putInt(1);
        b.putInt(hashType);
        b.order(ByteOrder.BIG_ENDIAN).putLong(uuid.getMostSignificantBits()).putLong(uuid.getLeastSignificantBits());
        b.order(ByteOrder.LITTLE_ENDIAN);
        // veritysetup lower-cases the name and always leaves a terminating NUL
        byte[] name = algorithm.toLowerCase(Locale.ROOT).getBytes(StandardCharsets.US_ASCII);
        b.put(Arrays.copyOf(name, Math.min(name.length, ALGORITHM_BYTES - 1)));
        b.position(64);
        b.putInt(dataBlockSize);
        b.putInt(hashBlockSize);
        b.putLong(dataBlocks);
        b.putShort((short) salt.length);
        b.position(88);
        b.put(salt);
        return b.array();
    }

    /** Parses a header; the messages are veritysetup's. */
    public static VeritySuperblock decode(byte[] bytes) throws VerityException {
        ByteBuffer b = ByteBuffer.wrap(bytes, 0, SIZE).order(ByteOrder.LITTLE_ENDIAN);
        byte[] signature = new byte[8];
        b.get(signature);
        if (!Arrays.equals(signature, SIGNATURE)) {
            throw new VerityException("No VERITY signature detected.");
        }
        int version = b.getInt();
        if (version != 1) {
            throw new VerityException("Unsupported VERITY version " + version + ".");
        }
        int hashType = b.getInt();
        if (hashType < 0 || hashType > 1) {
            throw new VerityException("Unsupported VERITY hash type " + hashType + ".");
        }
        UUID uuid = new UUID(b.order(ByteOrder.BIG_ENDIAN).getLong(), b.getLong());
        b.order(ByteOrder.LITTLE_ENDIAN);
        byte[] name = new byte[ALGORITHM_BYTES];
        b.get(name);
        int nameLength = 0;
        while (nameLength < name.length && name[nameLength] != 0) {
            nameLength++;
        }
        int dataBlockSize = b.getInt();
        int hashBlockSize = b.getInt();
        if (!VerityOptions.blockSizeOk(dataBlockSize) || !VerityOptions.blockSizeOk(hashBlockSize)) {
            throw new VerityException("Unsupported VERITY block size.");
        }
        long dataBlocks = b.getLong();
        int saltSize = Short.toUnsignedInt(b.getShort());
        if (saltSize > MAX_SALT) {
            throw new VerityException("VERITY header corrupted.");
        }
        byte[] salt = Arrays.copyOfRange(bytes, 88, 88 + saltSize);
        return new VeritySuperblock(hashType, uuid, new String(name, 0, nameLength, StandardCharsets.US_ASCII),
                dataBlockSize, hashBlockSize, dataBlocks, salt);
    }
}
