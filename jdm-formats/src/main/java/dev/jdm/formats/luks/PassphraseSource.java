package dev.jdm.formats.luks;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * Reads passphrases the ways cryptsetup does, never from the command line:
 * <ul>
 *   <li>a key file ({@code --key-file}, {@code --keyfile-offset}, {@code --keyfile-size}): raw bytes,
 *       newlines included; {@code -} means standard input;</li>
 *   <li>standard input without {@code --key-file}: one line, the newline not included;</li>
 *   <li>a terminal prompt (the CLI reads chars and passes them to {@link #fromChars}).</li>
 * </ul>
 * Every intermediate buffer is wiped; the caller wipes the returned bytes.
 */
public final class PassphraseSource {

    /** cryptsetup's default --keyfile-size limit: 8 MiB. */
    public static final long DEFAULT_KEYFILE_MAX = 8L * 1024 * 1024;
    /** cryptsetup's limit for an interactive or piped passphrase: 512 characters. */
    public static final int MAX_PASSPHRASE_LINE = 512;

    private PassphraseSource() {
    }

    /**
     * The key file's bytes after skipping {@code offset} bytes: exactly {@code size} bytes when size
     * is not 0 (a shorter file is an error), else everything up to the end (at most 8 MiB).
     */
    public static byte[] fromKeyFile(Path keyFile, long offset, long size) throws IOException {
        try (InputStream in = Files.newInputStream(keyFile)) {
            return fromKeyFile(in, offset, size);
        }
    }

    /** As {@link #fromKeyFile(Path, long, long)} for {@code --key-file=-} (standard input). */
    public static byte[] fromKeyFile(InputStream in, long offset, long size) throws IOException {
        if (offset < 0 || size < 0 || size > DEFAULT_KEYFILE_MAX) {
            throw new LuksException("Invalid keyfile offset or size.");
        }
        try {
            in.skipNBytes(offset);
        } catch (EOFException e) {
            throw new LuksException("Cannot seek to requested keyfile offset.", e);
        }
        // Read one byte past the limit to tell "exactly at the limit" from "over it".
        byte[] bytes = in.readNBytes((int) (size != 0 ? size : DEFAULT_KEYFILE_MAX + 1));
        if (size == 0 && bytes.length > DEFAULT_KEYFILE_MAX) {
            Arrays.fill(bytes, (byte) 0);
            throw new LuksException("Maximum keyfile size exceeded.");
        }
        if (size != 0 && bytes.length < size) {
            Arrays.fill(bytes, (byte) 0);
            throw new LuksException("Cannot read requested amount of data.");
        }
        return bytes;
    }

    /** A passphrase piped on standard input: the first line, without its newline. */
    public static byte[] fromStdinLine(InputStream in) throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        try {
            int b;
            while ((b = in.read()) >= 0 && b != '\n') {
                if (line.size() >= MAX_PASSPHRASE_LINE) {
                    throw new LuksException("Maximum passphrase length exceeded.");
                }
                line.write(b);
            }
            return line.toByteArray();
        } finally {
            wipe(line);
        }
    }

    /** A passphrase typed at a prompt, as UTF-8 bytes (what cryptsetup hashes); wipes the chars. */
    public static byte[] fromChars(char[] passphrase) {
        ByteBuffer encoded = StandardCharsets.UTF_8.encode(CharBuffer.wrap(passphrase));
        byte[] bytes = new byte[encoded.remaining()];
        encoded.get(bytes);
        Arrays.fill(passphrase, '\0');
        if (encoded.hasArray()) {
            Arrays.fill(encoded.array(), (byte) 0);
        }
        return bytes;
    }

    /** Overwrites a stream's internal buffer (reset keeps the buffer; writing zeroes over it wipes it). */
    private static void wipe(ByteArrayOutputStream stream) {
        int size = stream.size();
        stream.reset();
        stream.writeBytes(new byte[size]);
        stream.reset();
    }
}
