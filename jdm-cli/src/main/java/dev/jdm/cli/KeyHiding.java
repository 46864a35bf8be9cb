package dev.jdm.cli;

/**
 * What dmsetup table does to keys unless --showkeys: a crypt key (the second word; a ":" kernel
 * keyring reference is harmless and stays) and the keys of integrity's internal_hash,
 * journal_crypt and journal_mac become zeros of the same length.
 */
final class KeyHiding {
    private KeyHiding() {
    }

    static String hide(String type, String params) {
        return switch (type) {
            case "crypt" -> hideCryptKey(params);
            case "integrity" -> hideAfter(hideAfter(hideAfter(params, "internal_hash:"), "journal_crypt:"), "journal_mac:");
            default -> params;
        };
    }

    private static String hideCryptKey(String params) {
        int start = params.indexOf(' ');
        if (start < 0 || start + 1 >= params.length() || params.charAt(start + 1) == ':') {
            return params;
        }
        return zeroWord(params, start + 1);
    }

    /** Zeros the key in {@code name<alg>:<key>}; no key, nothing to hide. */
    private static String hideAfter(String params, String name) {
        int at = params.indexOf(name);
        if (at < 0) {
            return params;
        }
        int i = at + name.length();
        while (i < params.length() && params.charAt(i) != ' ' && params.charAt(i) != ':') {
            i++;
        }
        if (i >= params.length() || params.charAt(i) != ':') {
            return params;
        }
        return zeroWord(params, i + 1);
    }

    private static String zeroWord(String s, int from) {
        int end = s.indexOf(' ', from);
        end = end < 0 ? s.length() : end;
        return s.substring(0, from) + "0".repeat(end - from) + s.substring(end);
    }
}
