package dev.jdm.targets.crypt;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * What the kernel would allocate as the crypto transform for a cipher spec ({@code xts(aes)},
 * {@code essiv(cbc(aes),sha256)}): checks that it exists, which sub-key lengths it takes, and builds
 * per-thread {@link SectorCipher}s from a sub-key.
 */
final class CipherAlgorithm {
    /** The kernel's hash names for ESSIV, mapped to the JDK's. */
    private static final Map<String, String> ESSIV_HASHES = Map.of(
            "md5", "MD5", "sha1", "SHA-1", "sha224", "SHA-224", "sha256", "SHA-256",
            "sha384", "SHA-384", "sha512", "SHA-512", "sha3-256", "SHA3-256", "sha3-512", "SHA3-512");

    enum ChainMode { ECB, CBC, XTS }

    private final BlockCipherKind block;
    private final ChainMode mode;
    /** JDK name of the ESSIV hash, or null without ESSIV. */
    private final String essivHash;

    private CipherAlgorithm(BlockCipherKind block, ChainMode mode, String essivHash) {
        this.block = block;
        this.mode = mode;
        this.essivHash = essivHash;
    }

    /** The transform for a spec, or an error in the kernel's spirit ("Error allocating crypto tfm") saying why. */
    static CipherAlgorithm of(CipherSpec spec) {
        BlockCipherKind block = BlockCipherKind.byKernelName(spec.cipher()).orElseThrow(() -> new IllegalArgumentException(
                "Error allocating crypto tfm: cipher \"" + spec.cipher() + "\" is not supported (jdm has "
                        + Arrays.stream(BlockCipherKind.values()).map(BlockCipherKind::kernelName).collect(Collectors.joining(", ")) + ")"));
        ChainMode mode = switch (spec.chainMode()) {
            case "ecb" -> ChainMode.ECB;
            case "cbc" -> ChainMode.CBC;
            case "xts" -> ChainMode.XTS;
            default -> throw new IllegalArgumentException("Error allocating crypto tfm: chain mode \""
                    + spec.chainMode() + "\" is not supported (jdm has ecb, cbc, xts)");
        };
        String essivHash = null;
        if ("essiv".equals(spec.ivMode()) && mode != ChainMode.ECB) {
            if (spec.ivOptions() == null) {
                throw new IllegalArgumentException("Digest algorithm missing for ESSIV mode");
            }
            essivHash = ESSIV_HASHES.get(spec.ivOptions());
            if (essivHash == null) {
                throw new IllegalArgumentException("Error allocating crypto tfm: ESSIV hash \"" + spec.ivOptions()
                        + "\" is not supported (jdm has " + String.join(", ", ESSIV_HASHES.keySet().stream().sorted().toList()) + ")");
            }
            int salt = digest(essivHash).getDigestLength();
            if (!block.acceptsKeySize(salt)) {
                throw new IllegalArgumentException("Error allocating crypto tfm: the " + salt + "-byte " + spec.ivOptions()
                        + " digest is not a valid " + block.kernelName() + " key for ESSIV");
            }
        }
        return new CipherAlgorithm(block, mode, essivHash);
    }

    /** The transform's IV length: none for ECB, one block otherwise. */
    int ivSize() {
        return mode == ChainMode.ECB ? 0 : BlockPrimitive.BLOCK_SIZE;
    }

    ChainMode mode() {
        return mode;
    }

    /** Whether {@code setkey} would take a sub-key of this length. */
    boolean acceptsSubkeySize(int bytes) {
        return mode == ChainMode.XTS ? bytes % 2 == 0 && block.acceptsKeySize(bytes / 2) : block.acceptsKeySize(bytes);
    }

    /** The sub-key lengths {@code setkey} takes, for error messages. */
    String subkeySizes() {
        int factor = mode == ChainMode.XTS ? 2 : 1;
        return Arrays.stream(block.keySizes()).map(k -> k * factor).mapToObj(Integer::toString).collect(Collectors.joining(", "));
    }

    /**
     * A fresh transform keyed with {@code subkey}, for one thread. AES in XTS mode runs on OpenSSL's
     * libcrypto when it is installed ({@link OpenSslXts}), on the JDK's AES otherwise.
     */
    SectorCipher create(byte[] subkey, int maxSectorSize) {
        SectorCipher cipher = switch (mode) {
            case ECB -> new EcbSectorCipher(block.create(subkey), maxSectorSize);
            case CBC -> new CbcSectorCipher(block.create(subkey), maxSectorSize);
            case XTS -> {
                if (block == BlockCipherKind.AES) {
                    Optional<SectorCipher> openssl = OpenSslXts.create(subkey);
                    if (openssl.isPresent()) {
                        yield openssl.get();
                    }
                }
                int half = subkey.length / 2;
                byte[] k1 = Arrays.copyOfRange(subkey, 0, half);
                byte[] k2 = Arrays.copyOfRange(subkey, half, subkey.length);
                try {
                    yield new XtsSectorCipher(block.create(k1), block.create(k2), maxSectorSize);
                } finally {
                    Arrays.fill(k1, (byte) 0);
                    Arrays.fill(k2, (byte) 0);
                }
            }
        };
        if (essivHash == null) {
            return cipher;
        }
        byte[] salt = digest(essivHash).digest(subkey);
        try {
            return new EssivSectorCipher(cipher, block.create(salt));
        } finally {
            Arrays.fill(salt, (byte) 0);
        }
    }

    private static MessageDigest digest(String jdkName) {
        try {
            return MessageDigest.getInstance(jdkName);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK lacks " + jdkName, e);
        }
    }
}
