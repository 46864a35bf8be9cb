package dev.jdm.targets.crypt;

import javax.crypto.Cipher;
import javax.crypto.ShortBufferException;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import java.security.GeneralSecurityException;

/**
 * AES on the JDK's provider, whose ECB and CBC loops are compiled to AES-NI/VAES intrinsics; the
 * bulk calls go through {@code Cipher.update} on arrays, which allocates nothing.
 */
final class JdkAes implements BlockPrimitive {
    private final Cipher ecbEncrypt;
    private final Cipher ecbDecrypt;
    private final Cipher cbcEncrypt;
    private final SecretKeySpec key;
    private final int keyLength;

    JdkAes(byte[] keyBytes) {
        try {
            keyLength = keyBytes.length;
            key = new SecretKeySpec(keyBytes, "AES");
            ecbEncrypt = Cipher.getInstance("AES/ECB/NoPadding");
            ecbEncrypt.init(Cipher.ENCRYPT_MODE, key);
            ecbDecrypt = Cipher.getInstance("AES/ECB/NoPadding");
            ecbDecrypt.init(Cipher.DECRYPT_MODE, key);
            cbcEncrypt = Cipher.getInstance("AES/CBC/NoPadding");
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("the JDK's AES provider refused a " + keyBytes.length + "-byte key", e);
        }
    }

    @Override
    public void encrypt(byte[] src, int srcOff, byte[] dst, int dstOff, int len) {
        update(ecbEncrypt, src, srcOff, dst, dstOff, len);
    }

    @Override
    public void decrypt(byte[] src, int srcOff, byte[] dst, int dstOff, int len) {
        update(ecbDecrypt, src, srcOff, dst, dstOff, len);
    }

    @Override
    public void cbcEncrypt(byte[] buf, int off, int len, byte[] iv) {
        try {
            // CBC encryption is serial, so the JDK's single-stream intrinsic is as good as it gets;
            // re-initialising with the same key reuses the expanded key schedule.
            cbcEncrypt.init(Cipher.ENCRYPT_MODE, key, new IvParameterSpec(iv, 0, BLOCK_SIZE));
            cbcEncrypt.doFinal(buf, off, len, buf, off);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES-CBC failed", e);
        }
    }

    private static void update(Cipher c, byte[] src, int srcOff, byte[] dst, int dstOff, int len) {
        try {
            c.update(src, srcOff, len, dst, dstOff);
        } catch (ShortBufferException e) {
            throw new IllegalStateException("AES output buffer too small", e);
        }
    }

    @Override
    public void wipe() {
        // Re-keying with zeroes overwrites the round keys the provider keeps for this instance. The
        // SecretKeySpec's own copy cannot be zeroed (the JDK offers no public way); it goes with the GC.
        SecretKeySpec zero = new SecretKeySpec(new byte[keyLength], "AES");
        try {
            ecbEncrypt.init(Cipher.ENCRYPT_MODE, zero);
            ecbDecrypt.init(Cipher.DECRYPT_MODE, zero);
            cbcEncrypt.init(Cipher.ENCRYPT_MODE, zero, new IvParameterSpec(new byte[BLOCK_SIZE]));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES re-key failed", e);
        }
    }
}
