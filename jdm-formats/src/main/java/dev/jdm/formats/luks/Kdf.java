package dev.jdm.formats.luks;

import org.bouncycastle.crypto.generators.Argon2BytesGenerator;
import org.bouncycastle.crypto.params.Argon2Parameters;

import java.security.MessageDigest;
import java.util.Arrays;

/**
 * A password-based key derivation as a keyslot (or the volume-key digest) records it.
 * Passphrases are bytes, not chars: key files may hold any byte and cryptsetup hashes them as they are.
 */
public sealed interface Kdf {

    /** Derives {@code length} bytes from the passphrase; the caller wipes the result. */
    byte[] derive(byte[] passphrase, int length);

    /** The name in LUKS2 JSON and luksDump: pbkdf2, argon2i, argon2id. */
    String typeName();

    byte[] salt();

    record Pbkdf2(HashAlgorithm hash, int iterations, byte[] salt) implements Kdf {
        public Pbkdf2 {
            if (iterations < 1) {
                throw new IllegalArgumentException("PBKDF2 needs at least one iteration");
            }
            salt = salt.clone();
        }

        /**
         * RFC 8018 PBKDF2 with HMAC (RFC 2104) written over the JDK's digests rather than taken from
         * a library: Bouncy Castle's pure-Java HMAC is about eight times slower than the JDK's
         * intrinsified digests, and the JDK's own PBKDF2 takes chars (UTF-8), not the raw bytes of a
         * key file. The keyed inner and outer digest states are computed once and cloned per HMAC.
         */
        @Override
        public byte[] derive(byte[] passphrase, int length) {
            int blockSize = hash.blockSize();
            byte[] key = passphrase.length > blockSize ? hash.hash(passphrase) : passphrase;
            byte[] innerPad = new byte[blockSize];
            byte[] outerPad = new byte[blockSize];
            for (int i = 0; i < blockSize; i++) {
                byte k = i < key.length ? key[i] : 0;
                innerPad[i] = (byte) (k ^ 0x36);
                outerPad[i] = (byte) (k ^ 0x5c);
            }
            MessageDigest inner = hash.newDigest();
            MessageDigest outer = hash.newDigest();
            inner.update(innerPad);
            outer.update(outerPad);
            Arrays.fill(innerPad, (byte) 0);
            Arrays.fill(outerPad, (byte) 0);
            if (key != passphrase) {
                Arrays.fill(key, (byte) 0);
            }
            byte[] derived = new byte[length];
            byte[] first = Arrays.copyOf(salt, salt.length + 4);
            for (int block = 1, offset = 0; offset < length; block++) {
                first[salt.length] = (byte) (block >>> 24);
                first[salt.length + 1] = (byte) (block >>> 16);
                first[salt.length + 2] = (byte) (block >>> 8);
                first[salt.length + 3] = (byte) block;
                byte[] u = hmac(inner, outer, first);
                byte[] t = u.clone();
                for (int iteration = 1; iteration < iterations; iteration++) {
                    byte[] next = hmac(inner, outer, u);
                    Arrays.fill(u, (byte) 0);
                    u = next;
                    for (int i = 0; i < t.length; i++) {
                        t[i] ^= u[i];
                    }
                }
                int n = Math.min(t.length, length - offset);
                System.arraycopy(t, 0, derived, offset, n);
                offset += n;
                Arrays.fill(t, (byte) 0);
                Arrays.fill(u, (byte) 0);
            }
            inner.reset();
            outer.reset();
            return derived;
        }

        private static byte[] hmac(MessageDigest keyedInner, MessageDigest keyedOuter, byte[] message) {
            try {
                MessageDigest inner = (MessageDigest) keyedInner.clone();
                inner.update(message);
                byte[] innerHash = inner.digest();
                MessageDigest outer = (MessageDigest) keyedOuter.clone();
                outer.update(innerHash);
                Arrays.fill(innerHash, (byte) 0);
                return outer.digest();
            } catch (CloneNotSupportedException e) {
                throw new IllegalStateException("digest " + keyedInner.getAlgorithm() + " cannot be cloned", e);
            }
        }

        @Override
        public String typeName() {
            return "pbkdf2";
        }

        @Override
        public byte[] salt() {
            return salt.clone();
        }
    }

    /** Argon2i or Argon2id, version 0x13 (the only one cryptsetup writes). Memory in KiB. */
    record Argon2(boolean id, int time, int memoryKiB, int parallel, byte[] salt) implements Kdf {
        public Argon2 {
            if (time < 1 || memoryKiB < 8 || parallel < 1) {
                throw new IllegalArgumentException("Argon2 needs time >= 1, memory >= 8 KiB, parallel >= 1");
            }
            salt = salt.clone();
        }

        @Override
        public byte[] derive(byte[] passphrase, int length) {
            Argon2Parameters parameters = new Argon2Parameters.Builder(
                    id ? Argon2Parameters.ARGON2_id : Argon2Parameters.ARGON2_i)
                    .withVersion(Argon2Parameters.ARGON2_VERSION_13)
                    .withIterations(time)
                    .withMemoryAsKB(memoryKiB)
                    .withParallelism(parallel)
                    .withSalt(salt)
                    .build();
            Argon2BytesGenerator generator = new Argon2BytesGenerator();
            generator.init(parameters);
            byte[] key = new byte[length];
            generator.generateBytes(passphrase, key);
            return key;
        }

        @Override
        public String typeName() {
            return id ? "argon2id" : "argon2i";
        }

        @Override
        public byte[] salt() {
            return salt.clone();
        }
    }
}
