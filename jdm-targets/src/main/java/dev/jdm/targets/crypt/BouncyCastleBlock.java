package dev.jdm.targets.crypt;

import org.bouncycastle.crypto.BlockCipher;
import org.bouncycastle.crypto.params.KeyParameter;

import java.util.function.Supplier;

/** Serpent and Twofish from Bouncy Castle's lightweight API (the JDK has neither). */
final class BouncyCastleBlock implements BlockPrimitive {
    private final BlockCipher encryptor;
    private final BlockCipher decryptor;
    private final int keyLength;

    BouncyCastleBlock(Supplier<BlockCipher> engine, byte[] key) {
        keyLength = key.length;
        encryptor = engine.get();
        encryptor.init(true, new KeyParameter(key));
        decryptor = engine.get();
        decryptor.init(false, new KeyParameter(key));
    }

    @Override
    public void encrypt(byte[] src, int srcOff, byte[] dst, int dstOff, int len) {
        for (int i = 0; i < len; i += BLOCK_SIZE) {
            encryptor.processBlock(src, srcOff + i, dst, dstOff + i);
        }
    }

    @Override
    public void decrypt(byte[] src, int srcOff, byte[] dst, int dstOff, int len) {
        for (int i = 0; i < len; i += BLOCK_SIZE) {
            decryptor.processBlock(src, srcOff + i, dst, dstOff + i);
        }
    }

    @Override
    public void cbcEncrypt(byte[] buf, int off, int len, byte[] iv) {
        for (int i = 0; i < len; i += BLOCK_SIZE) {
            byte[] chain = i == 0 ? iv : buf;
            int chainOff = i == 0 ? 0 : off + i - BLOCK_SIZE;
            for (int j = 0; j < BLOCK_SIZE; j++) {
                buf[off + i + j] ^= chain[chainOff + j];
            }
            // BC engines read the whole block before writing it, so in place is safe here.
            encryptor.processBlock(buf, off + i, buf, off + i);
        }
    }

    @Override
    public void wipe() {
        encryptor.init(true, new KeyParameter(new byte[keyLength]));
        decryptor.init(false, new KeyParameter(new byte[keyLength]));
    }
}
