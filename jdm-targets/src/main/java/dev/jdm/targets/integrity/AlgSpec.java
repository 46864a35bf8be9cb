package dev.jdm.targets.integrity;

import java.util.HexFormat;

/**
 * An {@code alg[:hexkey]} table value split as {@code get_alg_and_key} splits it: the algorithm
 * name, and the key as written and as bytes (both null without a key).
 */
record AlgSpec(String alg, String keyHex, byte[] key) {

    /** {@code invalidArgument} is the kernel's message for a key of odd length or with a non-hex digit. */
    static AlgSpec parse(String spec, String invalidArgument) throws IntegrityHash.AlgorithmException {
        int colon = spec.indexOf(':');
        if (colon < 0) {
            return new AlgSpec(spec, null, null);
        }
        String hex = spec.substring(colon + 1);
        if ((hex.length() & 1) != 0) {
            throw new IntegrityHash.AlgorithmException(invalidArgument);
        }
        try {
            return new AlgSpec(spec.substring(0, colon), hex, HexFormat.of().parseHex(hex));
        } catch (IllegalArgumentException e) {
            throw new IntegrityHash.AlgorithmException(invalidArgument);
        }
    }
}
