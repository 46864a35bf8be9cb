package dev.jdm.formats.luks;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;

/** Fixed-size, NUL-padded text and byte fields of the binary LUKS headers, and bytes as luksDump shows them. */
final class Fields {

    private Fields() {
    }

    static String text(ByteBuffer in, int size) {
        byte[] raw = bytes(in, size);
        int end = 0;
        while (end < size && raw[end] != 0) {
            end++;
        }
        return new String(raw, 0, end, StandardCharsets.UTF_8);
    }

    static byte[] bytes(ByteBuffer in, int size) {
        byte[] raw = new byte[size];
        in.get(raw);
        return raw;
    }

    /** Writes the text NUL-padded; it must leave room for at least one NUL, as cryptsetup requires. */
    static void putText(ByteBuffer out, String value, int size) throws LuksException {
        byte[] raw = value.getBytes(StandardCharsets.UTF_8);
        if (raw.length >= size) {
            throw new LuksException("'" + value + "' is longer than " + (size - 1) + " bytes.");
        }
        out.put(raw).put(new byte[size - raw.length]);
    }

    /** Bytes as cryptsetup's luksDump prints them: two hex digits and a space each. */
    static String hexBytes(byte[] bytes, int offset, int length) {
        StringBuilder out = new StringBuilder();
        HexFormat hex = HexFormat.of();
        for (int i = offset; i < offset + length; i++) {
            out.append(hex.toHexDigits(bytes[i])).append(' ');
        }
        return out.toString();
    }
}
