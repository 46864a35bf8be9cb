package dev.jdm.cli;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * dmsetup's name mangling (libdm's mangle_string): characters udev would not accept in a device
 * name are written as {@code \xNN}. {@code auto} mangles a name that needs it and keeps one that is
 * already mangled; {@code hex} mangles every character off the whitelist, backslashes included;
 * {@code none} leaves names alone.
 */
enum NameMangling {
    NONE, AUTO, HEX;

    /** A name or uuid that cannot be mangled the way asked. */
    static final class MangleException extends Exception {
        MangleException(String message) {
            super(message);
        }
    }

    static boolean whitelisted(char c) {
        return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || "#+-.:=@_".indexOf(c) >= 0;
    }

    /** The form a name is sent to the daemon in. {@code what} is "name" or "UUID", for messages. */
    String mangle(String s, String what) throws MangleException {
        if (this == NONE || s == null) {
            return s;
        }
        StringBuilder out = new StringBuilder();
        Boolean needsMangling = null;
        byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
        for (int i = 0; i < bytes.length; i++) {
            char c = (char) (bytes[i] & 0xff);
            if (this == AUTO && c == '\\' && i + 1 < bytes.length && bytes[i + 1] == 'x') {
                if (bytes.length - i < 4 || Boolean.TRUE.equals(needsMangling)) {
                    throw mixed(s, what);
                }
                out.append(new String(bytes, i, 4, StandardCharsets.ISO_8859_1));
                i += 3;
                needsMangling = false;
            } else if (whitelisted(c) && c < 0x80) {
                out.append(c);
            } else {
                if (this != HEX && Boolean.FALSE.equals(needsMangling)) {
                    throw mixed(s, what);
                }
                out.append(String.format("\\x%02x", (int) c));
                needsMangling = true;
            }
        }
        return out.toString();
    }

    /** Undoes {@code \xNN} sequences (libdm's unmangle_string). */
    static String unmangle(String s) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
        for (int i = 0; i < bytes.length; i++) {
            if (bytes[i] == '\\' && i + 3 < bytes.length && bytes[i + 1] == 'x' && isHex(bytes[i + 2]) && isHex(bytes[i + 3])) {
                out.write(Integer.parseInt(new String(bytes, i + 2, 2, StandardCharsets.US_ASCII), 16));
                i += 3;
            } else {
                out.write(bytes[i]);
            }
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    private static boolean isHex(byte b) {
        return Character.digit(b, 16) >= 0;
    }

    private static MangleException mixed(String s, String what) {
        return new MangleException("The " + what + " \"" + s + "\" contains mixed mangled and unmangled characters or it's already mangled improperly.");
    }
}
