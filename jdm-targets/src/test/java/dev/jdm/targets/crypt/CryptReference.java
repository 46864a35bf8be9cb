package dev.jdm.targets.crypt;

import dev.jdm.core.testing.ExternalTools;
import org.bouncycastle.crypto.BlockCipher;
import org.bouncycastle.crypto.engines.SerpentEngine;
import org.bouncycastle.crypto.engines.TwofishEngine;
import org.bouncycastle.crypto.modes.CBCBlockCipher;
import org.bouncycastle.crypto.modes.CBCModeCipher;
import org.bouncycastle.crypto.params.KeyParameter;
import org.bouncycastle.crypto.params.ParametersWithIV;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.function.Supplier;

/**
 * An independent model of dm-crypt's on-disk format, written from the kernel sources without any of
 * the target's code: per crypto sector the IV the mode defines, then the chain mode. The block
 * cipher comes from {@code openssl enc} for AES (run at test time) and from Bouncy Castle's
 * engines for Serpent and Twofish; XTS is assembled from ECB per IEEE 1619, since OpenSSL's
 * {@code enc} refuses XTS.
 */
final class CryptReference {
    private static final HexFormat HEX = HexFormat.of();

    /** ECB and CBC encryption with one block cipher. */
    interface Blocks {
        byte[] ecbEncrypt(byte[] key, byte[] data);

        byte[] cbcEncrypt(byte[] key, byte[] iv, byte[] data);
    }

    /** AES through the openssl command line tool. */
    static final Blocks OPENSSL_AES = new Blocks() {
        @Override
        public byte[] ecbEncrypt(byte[] key, byte[] data) {
            return openssl("-aes-" + key.length * 8 + "-ecb", key, null, data);
        }

        @Override
        public byte[] cbcEncrypt(byte[] key, byte[] iv, byte[] data) {
            return openssl("-aes-" + key.length * 8 + "-cbc", key, iv, data);
        }
    };

    static final Blocks BC_SERPENT = bouncyCastle(SerpentEngine::new);
    static final Blocks BC_TWOFISH = bouncyCastle(TwofishEngine::new);

    static Blocks forCipher(String cipher) {
        return switch (cipher) {
            case "aes" -> OPENSSL_AES;
            case "serpent" -> BC_SERPENT;
            case "twofish" -> BC_TWOFISH;
            default -> throw new IllegalArgumentException(cipher);
        };
    }

    static void requireOpenssl() {
        ExternalTools.requireTool("openssl", "openssl");
    }

    private static byte[] openssl(String cipher, byte[] key, byte[] iv, byte[] data) {
        List<String> cmd = new ArrayList<>(List.of("openssl", "enc", cipher, "-nopad", "-K", HEX.formatHex(key)));
        if (iv != null) {
            cmd.addAll(List.of("-iv", HEX.formatHex(iv)));
        }
        try {
            Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.DISCARD).start();
            // Feed stdin from another thread so a full stdout pipe cannot stall us.
            Thread feeder = Thread.ofVirtual().start(() -> {
                try (OutputStream out = p.getOutputStream()) {
                    out.write(data);
                } catch (IOException e) {
                    throw new IllegalStateException(e);
                }
            });
            byte[] result;
            try (InputStream in = p.getInputStream()) {
                result = in.readAllBytes();
            }
            feeder.join();
            if (p.waitFor() != 0 || result.length != data.length) {
                throw new IllegalStateException("openssl " + cipher + " failed (exit " + p.exitValue() + ", " + result.length + " bytes)");
            }
            return result;
        } catch (IOException e) {
            throw new IllegalStateException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static Blocks bouncyCastle(Supplier<BlockCipher> engine) {
        return new Blocks() {
            @Override
            public byte[] ecbEncrypt(byte[] key, byte[] data) {
                BlockCipher c = engine.get();
                c.init(true, new KeyParameter(key));
                byte[] out = new byte[data.length];
                for (int i = 0; i < data.length; i += 16) {
                    c.processBlock(data, i, out, i);
                }
                return out;
            }

            @Override
            public byte[] cbcEncrypt(byte[] key, byte[] iv, byte[] data) {
                CBCModeCipher cbc = CBCBlockCipher.newInstance(engine.get());
                cbc.init(true, new ParametersWithIV(new KeyParameter(key), iv));
                byte[] out = new byte[data.length];
                for (int i = 0; i < data.length; i += 16) {
                    cbc.processBlock(data, i, out, i);
                }
                return out;
            }
        };
    }

    // ---- XTS from ECB (IEEE 1619 5.3) --------------------------------------------------------------

    static byte[] xtsEncrypt(Blocks blocks, byte[] key, byte[] iv, byte[] plain) {
        byte[] k1 = Arrays.copyOfRange(key, 0, key.length / 2);
        byte[] k2 = Arrays.copyOfRange(key, key.length / 2, key.length);
        byte[] t = blocks.ecbEncrypt(k2, iv);
        byte[] tweaks = new byte[plain.length];
        byte[] x = new byte[plain.length];
        for (int j = 0; j < plain.length; j += 16) {
            System.arraycopy(t, 0, tweaks, j, 16);
            for (int i = 0; i < 16; i++) {
                x[j + i] = (byte) (plain[j + i] ^ t[i]);
            }
            t = timesAlpha(t);
        }
        byte[] y = blocks.ecbEncrypt(k1, x);
        for (int i = 0; i < y.length; i++) {
            y[i] ^= tweaks[i];
        }
        return y;
    }

    /** IEEE 1619 5.2: multiply by the primitive element, byte by byte with a carry. */
    static byte[] timesAlpha(byte[] t) {
        byte[] r = new byte[16];
        int carry = 0;
        for (int i = 0; i < 16; i++) {
            int b = t[i] & 0xff;
            r[i] = (byte) ((b << 1) | carry);
            carry = b >>> 7;
        }
        if (carry != 0) {
            r[0] ^= (byte) 0x87;
        }
        return r;
    }

    // ---- IVs ---------------------------------------------------------------------------------------

    static byte[] le64Iv(long sector) {
        byte[] iv = new byte[16];
        for (int i = 0; i < 8; i++) {
            iv[i] = (byte) (sector >>> (8 * i));
        }
        return iv;
    }

    static byte[] be64IvAtEnd(long value) {
        byte[] iv = new byte[16];
        for (int i = 0; i < 8; i++) {
            iv[15 - i] = (byte) (value >>> (8 * i));
        }
        return iv;
    }

    static byte[] sha256(byte[] data) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(data);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * loop-AES v2 IV: the trailer dm-crypt hashes after plaintext bytes 16..511 (sector, sector
     * high bits with 0x80 on top, bit count 4024) is exactly MD5's own padding of a 503-byte message,
     * so the raw MD5 state it uses equals the ordinary MD5 digest of 503 bytes.
     */
    static byte[] lmkIv(long sector, byte[] plainSector) {
        try {
            MessageDigest md5 = MessageDigest.getInstance("MD5");
            md5.update(plainSector, 16, 496);
            md5.update(new byte[]{(byte) sector, (byte) (sector >>> 8), (byte) (sector >>> 16), (byte) (sector >>> 24),
                    (byte) (sector >>> 32), (byte) (sector >>> 40), (byte) (sector >>> 48)});
            return md5.digest();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** TrueCrypt whitening over a 512-byte ciphertext sector (kernel crc32: start 0, no final inversion). */
    static void tcwWhiten(byte[] whiteningKey, long sector, byte[] data, int off) {
        byte[] buf = new byte[16];
        for (int i = 0; i < 16; i++) {
            buf[i] = (byte) (whiteningKey[i] ^ (sector >>> (8 * (i % 8))));
        }
        for (int i = 0; i < 4; i++) {
            int crc = 0;
            for (int k = 0; k < 4; k++) {
                crc ^= buf[4 * i + k] & 0xff;
                for (int bit = 0; bit < 8; bit++) {
                    crc = (crc & 1) != 0 ? (crc >>> 1) ^ 0xEDB88320 : crc >>> 1;
                }
            }
            for (int k = 0; k < 4; k++) {
                buf[4 * i + k] = (byte) (crc >>> (8 * k));
            }
        }
        for (int i = 0; i < 4; i++) {
            buf[i] ^= buf[12 + i];
            buf[4 + i] ^= buf[8 + i];
        }
        for (int i = 0; i < 512; i++) {
            data[off + i] ^= buf[i % 8];
        }
    }

    static byte[] concat(List<byte[]> parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        parts.forEach(out::writeBytes);
        return out.toByteArray();
    }
}
