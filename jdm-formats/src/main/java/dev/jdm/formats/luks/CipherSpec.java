package dev.jdm.formats.luks;

import java.util.Locale;
import java.util.Set;

/**
 * A dm-crypt cipher specification in the form LUKS stores and cryptsetup loads:
 * {@code cipher-chainmode-ivmode[:ivopts]}, e.g. aes-xts-plain64 or aes-cbc-essiv:sha256.
 * LUKS1 splits it into cipher name ("aes") and cipher mode ("xts-plain64"); LUKS2 keeps it whole.
 */
public record CipherSpec(String cipher, String chainMode, String ivMode, String ivOption) {

    private static final Set<String> CIPHERS = Set.of("aes", "serpent", "twofish");
    private static final Set<String> CHAIN_MODES = Set.of("xts", "cbc");
    private static final Set<String> IV_MODES = Set.of("plain", "plain64", "plain64be", "essiv", "null");

    public static CipherSpec parse(String spec) throws LuksException {
        String[] parts = spec.toLowerCase(Locale.ROOT).split("-", 3);
        if (parts.length != 3 || parts[0].isEmpty()) {
            throw invalid(spec);
        }
        return fromNameAndMode(parts[0], parts[1] + "-" + parts[2]);
    }

    /** From the two LUKS1 header fields. */
    public static CipherSpec fromNameAndMode(String cipherName, String cipherMode) throws LuksException {
        String spec = cipherName + "-" + cipherMode;
        String[] mode = cipherMode.split("-", 2);
        if (mode.length != 2) {
            throw invalid(spec);
        }
        String iv = mode[1];
        String ivOption = null;
        int colon = iv.indexOf(':');
        if (colon >= 0) {
            ivOption = iv.substring(colon + 1);
            iv = iv.substring(0, colon);
        }
        if (!CIPHERS.contains(cipherName) || !CHAIN_MODES.contains(mode[0]) || !IV_MODES.contains(iv)
                || ("essiv".equals(iv) != (ivOption != null))) {
            throw invalid(spec);
        }
        if (ivOption != null) {
            HashAlgorithm.byName(ivOption);
        }
        return new CipherSpec(cipherName, mode[0], iv, ivOption);
    }

    private static LuksException invalid(String spec) {
        return new LuksException("Cipher " + spec + " (key size in bits unknown) is not available.");
    }

    /** The LUKS1 cipher-mode field and the part after the cipher name: "xts-plain64", "cbc-essiv:sha256". */
    public String mode() {
        return chainMode + "-" + ivMode + (ivOption == null ? "" : ":" + ivOption);
    }

    /** The string dm-crypt's table and LUKS2's JSON carry. */
    @Override
    public String toString() {
        return cipher + "-" + mode();
    }

    /**
     * Refuses key sizes the cipher cannot take: XTS keys are two cipher keys, so AES-XTS takes 32, 48
     * or 64 bytes; serpent and twofish take 16, 24 or 32 bytes per cipher key like AES.
     */
    public void checkKeySize(int keyBytes) throws LuksException {
        int cipherKey = "xts".equals(chainMode) ? keyBytes / 2 : keyBytes;
        boolean whole = !"xts".equals(chainMode) || keyBytes % 2 == 0;
        if (!whole || (cipherKey != 16 && cipherKey != 24 && cipherKey != 32)) {
            throw new LuksException("Cipher " + this + " (key size " + keyBytes * 8 + " bits) is not available.");
        }
    }
}
