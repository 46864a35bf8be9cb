package dev.jdm.formats.luks;

import org.bouncycastle.crypto.Digest;
import org.bouncycastle.crypto.digests.RIPEMD160Digest;
import org.bouncycastle.crypto.digests.SHA1Digest;
import org.bouncycastle.crypto.digests.SHA224Digest;
import org.bouncycastle.crypto.digests.SHA256Digest;
import org.bouncycastle.crypto.digests.SHA384Digest;
import org.bouncycastle.crypto.digests.SHA512Digest;

import java.util.Locale;
import java.util.function.Supplier;

/** The hashes LUKS headers name (PBKDF2 hash, AF hash, digest hash, ESSIV hash), by their cryptsetup names. */
public enum HashAlgorithm {
    SHA1("sha1", SHA1Digest::new),
    SHA224("sha224", SHA224Digest::new),
    SHA256("sha256", SHA256Digest::new),
    SHA384("sha384", SHA384Digest::new),
    SHA512("sha512", SHA512Digest::new),
    RIPEMD160("ripemd160", RIPEMD160Digest::new);

    private final String luksName;
    private final Supplier<Digest> factory;

    HashAlgorithm(String luksName, Supplier<Digest> factory) {
        this.luksName = luksName;
        this.factory = factory;
    }

    public String luksName() {
        return luksName;
    }

    public Digest newDigest() {
        return factory.get();
    }

    public int size() {
        return newDigest().getDigestSize();
    }

    public byte[] hash(byte[] data) {
        Digest digest = newDigest();
        digest.update(data, 0, data.length);
        byte[] out = new byte[digest.getDigestSize()];
        digest.doFinal(out, 0);
        return out;
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
