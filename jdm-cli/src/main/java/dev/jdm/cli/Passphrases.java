package dev.jdm.cli;

import dev.jdm.formats.luks.LuksException;
import dev.jdm.formats.luks.PassphraseSource;

import java.io.Console;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * Where a passphrase comes from, as in cryptsetup: a key file (its raw bytes; "-" is standard
 * input), else a prompt without echo on a terminal, else the next line of standard input. Never argv.
 */
final class Passphrases {
    private Passphrases() {
    }

    static byte[] read(Path keyFile, long offset, long size, String prompt, boolean verify) throws IOException {
        if (keyFile != null) {
            return keyFile.toString().equals("-")
                    ? PassphraseSource.fromKeyFile(System.in, offset, size)
                    : PassphraseSource.fromKeyFile(keyFile, offset, size);
        }
        Console console = System.console();
        if (console != null && console.isTerminal()) {
            char[] typed = console.readPassword("%s", prompt);
            if (typed == null) {
                throw new LuksException("No passphrase given.");
            }
            if (verify) {
                char[] again = console.readPassword("Verify passphrase: ");
                boolean same = again != null && Arrays.equals(typed, again);
                if (again != null) {
                    Arrays.fill(again, '\0');
                }
                if (!same) {
                    Arrays.fill(typed, '\0');
                    throw new LuksException("Passphrases do not match.");
                }
            }
            return PassphraseSource.fromChars(typed);
        }
        return PassphraseSource.fromStdinLine(System.in);
    }

    /** What a command does with a secret; it may fail as the command may. */
    @FunctionalInterface
    interface SecretUse<E extends Exception> {
        void with(byte[] secret) throws IOException, E;
    }

    /** Runs {@code use} with the secret, then wipes the secret, also when {@code use} fails. */
    static <E extends Exception> void using(byte[] secret, SecretUse<E> use) throws IOException, E {
        try {
            use.with(secret);
        } finally {
            wipe(secret);
        }
    }

    static void wipe(byte[] secret) {
        if (secret != null) {
            Arrays.fill(secret, (byte) 0);
        }
    }
}
