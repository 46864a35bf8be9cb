package dev.jdm.targets.crypt;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A crypt table's {@code <cipher>} argument taken apart the way dm-crypt does it, in either form:
 * legacy {@code cipher[:keycount]-chainmode-ivmode[:ivopts]} ({@code aes-xts-plain64},
 * {@code aes:64-cbc-lmk}) or {@code capi:chainmode(cipher)-ivmode[:ivopts]}
 * ({@code capi:xts(aes)-plain64}).
 *
 * @param text      the argument as given (the table prints it back unchanged)
 * @param cipher    block cipher name, e.g. {@code aes}
 * @param chainMode {@code ecb}, {@code cbc} or {@code xts}
 * @param ivMode    IV generator name, or null when the spec names none (only {@code ecb} may omit it)
 * @param ivOptions text after the IV mode's colon (the ESSIV hash), or null
 * @param keyCount  number of interleaved keys ({@code tfms_count}): sector {@code n} uses key {@code n mod keyCount}
 */
public record CipherSpec(String text, String cipher, String chainMode, String ivMode, String ivOptions, int keyCount) {

    private static final Pattern CAPI_ALGORITHM = Pattern.compile("([a-z0-9]+)\\(([a-z0-9]+)\\)");
    /** dm-crypt's loop-AES compatible mode always runs 64 keys. */
    static final int LMK_KEYS = 64;

    /** Parses a cipher argument; errors say what is wrong without repeating anything secret (there is nothing secret here). */
    public static CipherSpec parse(String text) throws IllegalArgumentException {
        return text.startsWith("capi:") ? parseCapi(text) : parseLegacy(text);
    }

    private static CipherSpec parseCapi(String text) {
        String rest = text.substring("capi:".length());
        // IV options are split at the last ':' and the IV mode at the last '-': hash names may hold '-'.
        String ivOptions = null;
        int colon = rest.lastIndexOf(':');
        if (colon >= 0) {
            ivOptions = rest.substring(colon + 1);
            rest = rest.substring(0, colon);
        }
        String ivMode = null;
        int dash = rest.lastIndexOf('-');
        if (dash >= 0) {
            ivMode = rest.substring(dash + 1);
            rest = rest.substring(0, dash);
        }
        Matcher m = CAPI_ALGORITHM.matcher(rest);
        if (!m.matches()) {
            throw new IllegalArgumentException("crypto API algorithm \"" + rest
                    + "\" is not supported (jdm has chainmode(cipher) with ecb, cbc or xts)");
        }
        int keyCount = "lmk".equals(ivMode) ? LMK_KEYS : 1;
        return new CipherSpec(text, m.group(2), m.group(1), ivMode, ivOptions, keyCount);
    }

    private static CipherSpec parseLegacy(String text) {
        if (text.indexOf('(') >= 0) {
            throw new IllegalArgumentException("Bad cipher specification (crypto API names need the capi: prefix)");
        }
        // The kernel splits with strsep: first '-' ends cipher[:keycount], the next '-' ends the
        // chain mode, and the IV mode runs up to the first ':' after that.
        String[] head = splitOnce(text, '-');
        String[] cipherAndCount = splitOnce(head[0], ':');
        int keyCount = 1;
        if (cipherAndCount[1] != null) {
            keyCount = parseKeyCount(cipherAndCount[1]);
        }
        String chainMode = null;
        String ivMode = null;
        String ivOptions = null;
        if (head[1] != null) {
            String[] chain = splitOnce(head[1], '-');
            chainMode = chain[0];
            if (chain[1] != null) {
                String[] iv = splitOnce(chain[1], ':');
                ivMode = iv[0];
                ivOptions = iv[1];
            }
        }
        // Compatibility with the first dm-crypt format: a bare cipher (or cipher-plain) means cbc-plain.
        if (chainMode == null || (chainMode.equals("plain") && ivMode == null)) {
            chainMode = "cbc";
            ivMode = "plain";
        }
        if (!chainMode.equals("ecb") && ivMode == null) {
            throw new IllegalArgumentException("IV mechanism required for chain mode \"" + chainMode + "\"");
        }
        return new CipherSpec(text, cipherAndCount[0], chainMode, ivMode, ivOptions, keyCount);
    }

    private static int parseKeyCount(String s) {
        if (s.isEmpty() || s.length() > 9 || !s.chars().allMatch(c -> c >= '0' && c <= '9')) {
            throw new IllegalArgumentException("Bad cipher key count specification \"" + s + "\"");
        }
        int n = Integer.parseInt(s);
        if (Integer.bitCount(n) != 1) {
            throw new IllegalArgumentException("Bad cipher key count specification \"" + s + "\" (must be a power of two)");
        }
        return n;
    }

    /** {@code [before, after]} at the first {@code sep}; after is null when there is none (strsep). */
    private static String[] splitOnce(String s, char sep) {
        int i = s.indexOf(sep);
        return i < 0 ? new String[]{s, null} : new String[]{s.substring(0, i), s.substring(i + 1)};
    }
}
