package dev.jdm.formats.luks;

import org.bouncycastle.jce.provider.BouncyCastleProvider;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.Provider;
import java.util.Locale;

/**
 * The hashes LUKS headers name (PBKDF2 hash, AF hash, digest hash, ESSIV hash), by their cryptsetup
 * names. The JDK's digests come first because they are intrinsified (several times faster than pure
 * Java, which matters for PBKDF2 with millions of iterations); Bouncy Castle supplies RIPEMD-160.
 */
public enum HashAlgorithm {
    SHA1("sha1", "SHA-1", 64),
    SHA224("sha224", "SHA-224", 64),
    SHA256("sha256", "SHA-256", 64),
    SHA384("sha384", "SHA-384", 128),
    SHA512("sha512", "SHA-512", 128),
    RIPEMD160("ripemd160", "RIPEMD160", 64);

    private static final Provider BOUNCY_CASTLE = new BouncyCastleProvider();

    private final String luksName;
    private final String jcaName;
    private final int blockSize;

    HashAlgorithm(String luksName, String jcaName, int blockSize) {
        this.luksName = luksName;
        this.jcaName = jcaName;
        this.blockSize = blockSize;
    }

    public String luksName() {
        return luksName;
    }

    /** The input block size, which HMAC pads its key to. */
    int blockSize() {
        return blockSize;
    }

    public MessageDigest newDigest() {
        try {
            return MessageDigest.getInstance(jcaName);
        } catch (NoSuchAlgorithmException notInTheJdk) {
            try {
                return MessageDigest.getInstance(jcaName, BOUNCY_CASTLE);
            } catch (NoSuchAlgorithmException e) {
                throw new IllegalStateException("no provider has " + jcaName, e);
            }
        }
    }

    public int size() {
        return newDigest().getDigestLength();
    }

    public byte[] hash(byte[] data) {
        return newDigest().digest(data);
    }

    /** Looks a hash up by the name a header or a user gives (case-insensitive, as cryptsetup). */
    public static HashAlgorithm byName(String name) throws LuksException {
        String lower = name.toLowerCase(Locale.ROOT);
        for (HashAlgorithm hash : values()) {
            if (hash.luksName.equals(lower)) {
                return hash;
            }
        }
        throw new LuksException("Hash algorithm " + name + " is not supported.");
    }
}
