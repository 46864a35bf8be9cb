package dev.jdm.formats.luks;

import java.io.IOException;

/**
 * A LUKS operation refused: bad passphrase, damaged or unsupported header, bad parameters.
 * The message is what the user sees, worded like cryptsetup's where cryptsetup has a wording.
 */
public class LuksException extends IOException {

    public LuksException(String message) {
        super(message);
    }

    public LuksException(String message, Throwable cause) {
        super(message, cause);
    }

    /** cryptsetup's wording when no keyslot opens with the given passphrase. */
    public static LuksException noKeyAvailable() {
        return new LuksException("No key available with this passphrase.");
    }
}
