package dev.jdm.targets.crypt;

import java.util.Arrays;
import java.util.Locale;

/**
 * How dm-crypt divides a table's key for a cipher spec: {@code keyCount} equal cipher sub-keys, then
 * {@code keyExtra} bytes that feed the IV generator (lmk's seed, tcw's seed and whitening). Errors are
 * {@link IllegalArgumentException}s that never echo the key.
 */
final class KeyLayout {
    final CipherSpec spec;
    final CipherAlgorithm algorithm;
    /** The IV mode the transform uses: null for IV-less ciphers (the kernel ignores their IV mode). */
    final String ivMode;
    final int keyCount;
    final int keyExtra;
    final int subkeySize;

    KeyLayout(CipherSpec spec, CipherAlgorithm algorithm, int keySize) {
        this.spec = spec;
        this.algorithm = algorithm;
        this.ivMode = ivMode(spec, algorithm);
        this.keyCount = spec.keyCount();
        this.keyExtra = keyExtra(keySize);
        this.subkeySize = subkeySize(keySize);
    }

    /** The transform's IV mode for a spec: null for IV-less ciphers, whose IV mode the kernel ignores. */
    static String ivMode(CipherSpec spec, CipherAlgorithm algorithm) {
        return algorithm.ivSize() == 0 ? null : spec.ivMode();
    }

    /** Refuses IV modes jdm lacks and those the sector size rules out, in dm-crypt's words. */
    static void checkIvMode(String ivMode, int sectorSize) {
        if (ivMode == null) {
            return;
        }
        switch (ivMode) {
            case "plain", "plain64", "plain64be", "benbi", "null", "essiv", "eboiv" -> {
            }
            case "lmk", "tcw" -> {
                if (sectorSize != 512) {
                    throw new IllegalArgumentException("Unsupported sector size for " + ivMode.toUpperCase(Locale.ROOT)
                            + " (512-byte sectors only)");
                }
            }
            case "random", "elephant" -> throw new IllegalArgumentException("IV mode \"" + ivMode
                    + "\" is not supported by jdm's crypt target" + ("random".equals(ivMode) ? " (it needs dm-integrity metadata)" : ""));
            default -> throw new IllegalArgumentException("Invalid IV mode \"" + ivMode + "\"");
        }
    }

    /** dm-crypt's key_extra_size. */
    private int keyExtra(int keySize) {
        if ("tcw".equals(ivMode)) {
            int extra = algorithm.ivSize() + TcwIv.WHITENING_SIZE;
            if (keySize <= extra) {
                throw new IllegalArgumentException("Wrong key size for TCW: " + keySize + " bytes, need cipher keys plus "
                        + extra + " bytes of IV seed and whitening");
            }
            return extra;
        }
        if ("lmk".equals(ivMode) && keySize % keyCount != 0) {
            return keySize / (keyCount + 1); // loop-AES v3: one more key-sized part, the IV seed
        }
        return 0;
    }

    private int subkeySize(int keySize) {
        if (keySize == 0) {
            throw new IllegalArgumentException("cipher " + spec.text() + " needs a key (\"-\" means none)");
        }
        int cipherBytes = keySize - keyExtra;
        int subkey = cipherBytes / keyCount;
        if (cipherBytes % keyCount != 0 || !algorithm.acceptsSubkeySize(subkey)) {
            throw new IllegalArgumentException("Error decoding and setting key: a " + keySize + "-byte key does not fit "
                    + spec.text() + " (" + keyCount + (keyCount == 1 ? " key" : " keys") + " of " + algorithm.subkeySizes()
                    + " bytes" + (keyExtra > 0 ? ", plus " + keyExtra + " bytes for the IV" : "") + ")");
        }
        return subkey;
    }

    /** The IV generator for {@code key} (lmk and tcw copy their part of it), or null without IVs. */
    IvGenerator ivGenerator(byte[] key, int sectorSize) {
        if (ivMode == null) {
            return null;
        }
        int extraStart = keyCount * subkeySize;
        return switch (ivMode) {
            case "plain" -> CounterIv.PLAIN;
            case "plain64", "essiv" -> CounterIv.PLAIN64; // ESSIV encrypts the plain64 IV inside its transform
            case "plain64be" -> CounterIv.PLAIN64BE;
            case "benbi" -> CounterIv.BENBI;
            case "null" -> CounterIv.NULL;
            case "eboiv" -> new EboivIv(sectorSize);
            case "lmk" -> new LmkIv(keyExtra == 0 ? null : Arrays.copyOfRange(key, extraStart, extraStart + keyExtra));
            case "tcw" -> new TcwIv(Arrays.copyOfRange(key, extraStart, extraStart + algorithm.ivSize()),
                    Arrays.copyOfRange(key, extraStart + algorithm.ivSize(), key.length));
            default -> throw new IllegalStateException("IV mode checked before: " + ivMode);
        };
    }
}
