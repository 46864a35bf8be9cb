package dev.jdm.formats.luks;

import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Locale;

/**
 * How new keyslots derive their key, named like cryptsetup's options: {@code --pbkdf},
 * {@code --hash}, {@code --iter-time}, {@code --pbkdf-force-iterations}, {@code --pbkdf-memory},
 * {@code --pbkdf-parallel}. With forced iterations (the time cost for Argon2) nothing is benchmarked.
 *
 * @param pbkdf           pbkdf2, argon2i or argon2id
 * @param hash            the PBKDF2 hash (also the LUKS1 hash spec and the AF hash)
 * @param iterTimeMs      target unlock time when benchmarking
 * @param forcedIterations PBKDF2 iterations or Argon2 time cost; 0 = benchmark
 * @param memoryKiB       Argon2 memory cost
 * @param parallel        Argon2 threads
 */
public record KdfOptions(String pbkdf, HashAlgorithm hash, int iterTimeMs, int forcedIterations,
                         int memoryKiB, int parallel) {

    static final int SALT_SIZE = 32;
    static final int PBKDF2_MIN_ITERATIONS = 1000;
    static final int ARGON2_MIN_TIME = 4;
    static final int ARGON2_MIN_MEMORY_KIB = 32;

    /** cryptsetup 2.6's defaults for LUKS2: argon2id, 2 s, 1 GiB, up to 4 threads. */
    public static KdfOptions defaultsLuks2() {
        return new KdfOptions("argon2id", HashAlgorithm.SHA256, 2000, 0, 1048576,
                Math.min(4, Runtime.getRuntime().availableProcessors()));
    }

    /** cryptsetup 2.6's defaults for LUKS1: PBKDF2-SHA256, 2 s. */
    public static KdfOptions defaultsLuks1() {
        return new KdfOptions("pbkdf2", HashAlgorithm.SHA256, 2000, 0, 0, 0);
    }

    public KdfOptions {
        pbkdf = pbkdf.toLowerCase(Locale.ROOT);
        if (!pbkdf.equals("pbkdf2") && !pbkdf.equals("argon2i") && !pbkdf.equals("argon2id")) {
            throw new IllegalArgumentException("Unknown PBKDF type " + pbkdf + ".");
        }
        if (forcedIterations < 0 || iterTimeMs < 0) {
            throw new IllegalArgumentException("PBKDF iterations and time must not be negative");
        }
        if (pbkdf.equals("pbkdf2") && forcedIterations != 0 && forcedIterations < PBKDF2_MIN_ITERATIONS) {
            throw new IllegalArgumentException("Forced iteration count is too low for pbkdf2 (minimum is "
                    + PBKDF2_MIN_ITERATIONS + ").");
        }
        if (!pbkdf.equals("pbkdf2")) {
            if (forcedIterations != 0 && forcedIterations < ARGON2_MIN_TIME) {
                throw new IllegalArgumentException("Forced iteration count is too low for " + pbkdf
                        + " (minimum is " + ARGON2_MIN_TIME + ").");
            }
            if (memoryKiB < ARGON2_MIN_MEMORY_KIB || memoryKiB > 4 * 1024 * 1024) {
                throw new IllegalArgumentException("Forced memory cost is too low for " + pbkdf
                        + " (minimum is " + ARGON2_MIN_MEMORY_KIB + " kilobytes).");
            }
            if (parallel < 1 || parallel > 4) {
                throw new IllegalArgumentException("Requested maximum PBKDF parallel threads must be 1 to 4.");
            }
        }
    }

    public KdfOptions withForcedIterations(int iterations) {
        return new KdfOptions(pbkdf, hash, iterTimeMs, iterations, memoryKiB, parallel);
    }

    boolean isPbkdf2() {
        return pbkdf.equals("pbkdf2");
    }

    /** A KDF with a fresh salt, its cost forced or benchmarked for {@code keyBytes} of output. */
    Kdf newKdf(SecureRandom random, int keyBytes) {
        byte[] salt = new byte[SALT_SIZE];
        random.nextBytes(salt);
        if (isPbkdf2()) {
            int iterations = forcedIterations != 0 ? forcedIterations
                    : benchmark(cost -> new Kdf.Pbkdf2(hash, cost, salt), PBKDF2_MIN_ITERATIONS, iterTimeMs, keyBytes);
            return new Kdf.Pbkdf2(hash, iterations, salt);
        }
        boolean id = pbkdf.equals("argon2id");
        int time = forcedIterations != 0 ? forcedIterations
                : benchmark(cost -> new Kdf.Argon2(id, cost, memoryKiB, parallel, salt), ARGON2_MIN_TIME, iterTimeMs,
                keyBytes);
        return new Kdf.Argon2(id, time, memoryKiB, parallel, salt);
    }

    /**
     * The cost that makes one derivation take about {@code targetMs}: time a derivation at a cost
     * that takes long enough to measure, then scale linearly (both KDFs are linear in their cost).
     */
    static int benchmark(java.util.function.IntFunction<Kdf> kdfAtCost, int minimum, int targetMs, int keyBytes) {
        byte[] probe = "jdm benchmark passphrase".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        int cost = minimum;
        while (true) {
            long start = System.nanoTime();
            Arrays.fill(kdfAtCost.apply(cost).derive(probe, keyBytes), (byte) 0);
            double elapsedMs = (System.nanoTime() - start) / 1e6;
            if (elapsedMs >= Math.min(250, targetMs) || cost > Integer.MAX_VALUE / 2) {
                double scaled = cost * (targetMs / Math.max(elapsedMs, 0.001));
                return (int) Math.max(minimum, Math.min(Integer.MAX_VALUE, scaled));
            }
            cost *= 2;
        }
    }
}
