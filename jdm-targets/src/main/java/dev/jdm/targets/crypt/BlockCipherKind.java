package dev.jdm.targets.crypt;

import org.bouncycastle.crypto.engines.SerpentEngine;
import org.bouncycastle.crypto.engines.TwofishEngine;

import java.util.Arrays;
import java.util.Locale;
import java.util.Optional;

/** The block ciphers a crypt table may name, all with 16-byte blocks. */
enum BlockCipherKind {
    AES(16, 24, 32) {
        @Override
        BlockPrimitive create(byte[] key) {
            return new JdkAes(key);
        }
    },
    /** Bouncy Castle's SerpentEngine uses the byte order of the kernel's "serpent" (its "tnepres" is the other one). */
    SERPENT(16, 24, 32) {
        @Override
        BlockPrimitive create(byte[] key) {
            return new BouncyCastleBlock(SerpentEngine::new, key);
        }
    },
    TWOFISH(16, 24, 32) {
        @Override
        BlockPrimitive create(byte[] key) {
            return new BouncyCastleBlock(TwofishEngine::new, key);
        }
    };

    private final int[] keySizes;

    BlockCipherKind(int... keySizes) {
        this.keySizes = keySizes;
    }

    abstract BlockPrimitive create(byte[] key);

    boolean acceptsKeySize(int bytes) {
        return Arrays.stream(keySizes).anyMatch(k -> k == bytes);
    }

    int[] keySizes() {
        return keySizes.clone();
    }

    String kernelName() {
        return name().toLowerCase(Locale.ROOT);
    }

    static Optional<BlockCipherKind> byKernelName(String name) {
        return Arrays.stream(values()).filter(k -> k.kernelName().equals(name)).findFirst();
    }
}
