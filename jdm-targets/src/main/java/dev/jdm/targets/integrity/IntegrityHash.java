package dev.jdm.targets.integrity;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.nio.ByteBuffer;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Map;
import java.util.zip.CRC32C;

/**
 * A kernel shash algorithm named the way dm-integrity tables name it ({@code crc32c}, {@code crc32},
 * {@code sha256}, {@code hmac(sha256)}, ...), producing the bytes the kernel's implementation
 * produces: crc32c is the Castagnoli CRC finished with ~ and stored little-endian; crc32 is the
 * kernel's raw {@code crc32_le} with seed 0 and no final inversion, also little-endian.
 * Instances are safe for concurrent use.
 */
public final class IntegrityHash {
    private static final Map<String, String> DIGESTS = Map.of(
            "md5", "MD5", "sha1", "SHA-1", "sha224", "SHA-224", "sha256", "SHA-256", "sha384", "SHA-384",
            "sha512", "SHA-512", "sha3-256", "SHA3-256", "sha3-512", "SHA3-512");
    private static final int[] CRC32_TABLE = new int[256];

    static {
        for (int i = 0; i < 256; i++) {
            int c = i;
            for (int k = 0; k < 8; k++) {
                c = (c & 1) != 0 ? (c >>> 1) ^ 0xEDB88320 : c >>> 1;
            }
            CRC32_TABLE[i] = c;
        }
    }

    private enum Kind { CRC32C, CRC32, DIGEST, HMAC }

    /** Thrown for an unknown algorithm or a key it cannot take; the message is the kernel's wording. */
    public static final class AlgorithmException extends Exception {
        private static final long serialVersionUID = 1L;

        AlgorithmException(String message) {
            super(message);
        }
    }

    private final String name;
    private final String keyHex;
    private final Kind kind;
    private final String javaName;
    private final byte[] key;
    private final int digestSize;
    private final ThreadLocal<Object> engines;

    private IntegrityHash(String name, String keyHex, Kind kind, String javaName, byte[] key, int digestSize) {
        this.name = name;
        this.keyHex = keyHex;
        this.kind = kind;
        this.javaName = javaName;
        this.key = key;
        this.digestSize = digestSize;
        this.engines = ThreadLocal.withInitial(this::newEngine);
    }

    /**
     * Parses {@code alg[:hexkey]} as the table gives it (the part after {@code internal_hash:}).
     * {@code invalidArgument} is the kernel's message for a malformed key, {@code invalidAlg} and
     * {@code keyError} its messages for an unknown algorithm and a refused key.
     */
    static IntegrityHash parse(String spec, String invalidArgument, String invalidAlg, String keyError) throws AlgorithmException {
        AlgSpec parsed = AlgSpec.parse(spec, invalidArgument);
        String alg = parsed.alg();
        String hex = parsed.keyHex();
        byte[] key = parsed.key();
        if (alg.equals("crc32c") || alg.equals("crc32")) {
            // The kernel lets a 4-byte key replace the CRC seed; nobody formats that way, so refuse it plainly.
            if (key != null) {
                throw new AlgorithmException(keyError + " (" + alg + " keys are not supported)");
            }
            return new IntegrityHash(alg, null, alg.equals("crc32c") ? Kind.CRC32C : Kind.CRC32, null, null, 4);
        }
        if (alg.startsWith("hmac(") && alg.endsWith(")")) {
            String inner = DIGESTS.get(alg.substring(5, alg.length() - 1));
            if (inner == null) {
                throw new AlgorithmException(invalidAlg);
            }
            if (key == null) {
                throw new AlgorithmException(keyError);
            }
            String javaName = "Hmac" + inner.replace("-", "");
            try {
                int size = Mac.getInstance(javaName).getMacLength();
                return new IntegrityHash(alg, hex, Kind.HMAC, javaName, key, size);
            } catch (NoSuchAlgorithmException e) {
                throw new AlgorithmException(invalidAlg);
            }
        }
        String javaName = DIGESTS.get(alg);
        if (javaName == null) {
            throw new AlgorithmException(invalidAlg);
        }
        if (key != null) {
            throw new AlgorithmException(keyError);
        }
        try {
            return new IntegrityHash(alg, null, Kind.DIGEST, javaName, null, MessageDigest.getInstance(javaName).getDigestLength());
        } catch (NoSuchAlgorithmException e) {
            throw new AlgorithmException(invalidAlg);
        }
    }

    private Object newEngine() {
        try {
            return switch (kind) {
                case CRC32C -> new CRC32C();
                case CRC32 -> new int[1];
                case DIGEST -> MessageDigest.getInstance(javaName);
                case HMAC -> {
                    Mac mac = Mac.getInstance(javaName);
                    mac.init(new SecretKeySpec(key, javaName));
                    yield mac;
                }
            };
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("algorithm " + name + " vanished after it was checked", e);
        }
    }

    public String name() {
        return name;
    }

    /** The key as the table spelled it, or null. */
    public String keyHex() {
        return keyHex;
    }

    public boolean keyed() {
        return key != null;
    }

    public int digestSize() {
        return digestSize;
    }

    /** Digest of the concatenation of {@code parts} (each an array with offset and length triple). */
    public byte[] digest(byte[]... parts) {
        Session s = begin();
        for (byte[] p : parts) {
            s.update(p, 0, p.length);
        }
        return s.finish();
    }

    Session begin() {
        Object engine = engines.get();
        switch (engine) {
            case CRC32C c -> c.reset();
            case int[] crc -> crc[0] = 0;
            case MessageDigest d -> d.reset();
            case Mac m -> m.reset();
            default -> throw new IllegalStateException();
        }
        return new Session(engine);
    }

    /** One running computation on this thread's engine. */
    final class Session {
        private final Object engine;

        private Session(Object engine) {
            this.engine = engine;
        }

        void update(byte[] data, int offset, int length) {
            switch (engine) {
                case CRC32C c -> c.update(data, offset, length);
                case int[] crc -> crc[0] = crc32Le(crc[0], data, offset, length);
                case MessageDigest d -> d.update(data, offset, length);
                case Mac m -> m.update(data, offset, length);
                default -> throw new IllegalStateException();
            }
        }

        /** Feeds the buffer's remaining bytes (heap or direct) and consumes them. */
        void update(ByteBuffer data) {
            switch (engine) {
                case CRC32C c -> c.update(data);
                case int[] crc -> {
                    int c = crc[0];
                    for (int i = data.position(); i < data.limit(); i++) {
                        c = (c >>> 8) ^ CRC32_TABLE[(c ^ data.get(i)) & 0xff];
                    }
                    crc[0] = c;
                    data.position(data.limit());
                }
                case MessageDigest d -> d.update(data);
                case Mac m -> m.update(data);
                default -> throw new IllegalStateException();
            }
        }

        byte[] finish() {
            return switch (engine) {
                case CRC32C c -> le32((int) c.getValue());
                case int[] crc -> le32(crc[0]);
                case MessageDigest d -> d.digest();
                case Mac m -> m.doFinal();
                default -> throw new IllegalStateException();
            };
        }
    }

    private static int crc32Le(int crc, byte[] data, int offset, int length) {
        for (int i = offset; i < offset + length; i++) {
            crc = (crc >>> 8) ^ CRC32_TABLE[(crc ^ data[i]) & 0xff];
        }
        return crc;
    }

    private static byte[] le32(int v) {
        return new byte[]{(byte) v, (byte) (v >>> 8), (byte) (v >>> 16), (byte) (v >>> 24)};
    }

    @Override
    public String toString() {
        return keyHex == null ? name : name + ":" + keyHex;
    }
}
