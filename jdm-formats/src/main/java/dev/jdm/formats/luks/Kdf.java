package dev.jdm.formats.luks;

import org.bouncycastle.crypto.generators.Argon2BytesGenerator;
import org.bouncycastle.crypto.generators.PKCS5S2ParametersGenerator;
import org.bouncycastle.crypto.params.Argon2Parameters;
import org.bouncycastle.crypto.params.KeyParameter;

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

        @Override
        public byte[] derive(byte[] passphrase, int length) {
            PKCS5S2ParametersGenerator generator = new PKCS5S2ParametersGenerator(hash.newDigest());
            generator.init(passphrase, salt, iterations);
            byte[] key = ((KeyParameter) generator.generateDerivedMacParameters(length * 8)).getKey();
            return key;
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
