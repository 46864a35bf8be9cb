package dev.jdm.targets.crypt;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.ref.Cleaner;
import java.util.Arrays;
import java.util.Optional;

/**
 * AES-XTS on OpenSSL's libcrypto through the FFM API ({@code EVP_aes_128_xts}, {@code EVP_aes_256_xts}).
 * The JDK has no XTS mode, so {@link XtsSectorCipher} builds it from ECB calls and Java loops; through
 * the crypt target that reached about 0.70 of {@code openssl speed -evp aes-256-xts} on one core, this
 * about 0.85 (bench/crypt.sh). Same ciphertext either way.
 * <p>
 * One instance holds two initialised {@code EVP_CIPHER_CTX}s (one encrypting, one decrypting: the
 * provider expands K1 for the direction it was keyed in, so a context cannot switch direction by
 * re-IVing). Per sector only the IV is set, with {@code EVP_CipherInit_ex(ctx, NULL, NULL, NULL, iv, enc)},
 * which keeps the key schedule; one {@code EVP_CipherUpdate} over the sector is one XTS data unit
 * (a trailing partial block is ciphertext stealing, as in IEEE 1619). The sector data and the IV are
 * passed without copying: the heap arrays through critical downcalls.
 * <p>
 * Not thread-safe, like every {@link SectorCipher}. {@link #wipe()} frees the contexts (OpenSSL
 * cleanses their key schedules); a cipher dropped without a wipe is freed by a {@link Cleaner}.
 */
final class OpenSslXts implements SectorCipher {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final Library LIBRARY = Library.load();
    private static final Cleaner CLEANER = Cleaner.create();
    private static final int B = BlockPrimitive.BLOCK_SIZE;

    /** The downcalls we use, or null when libcrypto.so.3 is not installed or native access is denied. */
    private record Library(MemorySegment aes128Xts, MemorySegment aes256Xts, MethodHandle ctxNew, MethodHandle ctxFree,
                           MethodHandle init, MethodHandle initCritical, MethodHandle update, MethodHandle clearErrors,
                           MethodHandle ivNoconst) {
        static Library load() {
            try {
                SymbolLookup lib = SymbolLookup.libraryLookup("libcrypto.so.3", Arena.global());
                Linker.Option critical = Linker.Option.critical(true);
                FunctionDescriptor initFd = FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS,
                        ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_INT);
                MethodHandle cipher128 = call(lib, "EVP_aes_128_xts", FunctionDescriptor.of(ValueLayout.ADDRESS));
                MethodHandle cipher256 = call(lib, "EVP_aes_256_xts", FunctionDescriptor.of(ValueLayout.ADDRESS));
                MemorySegment aes128 = (MemorySegment) cipher128.invokeExact();
                MemorySegment aes256 = (MemorySegment) cipher256.invokeExact();
                if (aes128.equals(MemorySegment.NULL) || aes256.equals(MemorySegment.NULL)) {
                    return null;
                }
                return new Library(aes128, aes256,
                        call(lib, "EVP_CIPHER_CTX_new", FunctionDescriptor.of(ValueLayout.ADDRESS)),
                        call(lib, "EVP_CIPHER_CTX_free", FunctionDescriptor.ofVoid(ValueLayout.ADDRESS)),
                        call(lib, "EVP_CipherInit_ex", initFd),
                        call(lib, "EVP_CipherInit_ex", initFd, critical),
                        call(lib, "EVP_CipherUpdate", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS,
                                ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_INT), critical),
                        call(lib, "ERR_clear_error", FunctionDescriptor.ofVoid()),
                        call(lib, "EVP_CIPHER_CTX_iv_noconst", FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.ADDRESS)));
            } catch (Throwable t) {
                return null; // no libcrypto, or native access not enabled: the Java XTS is used
            }
        }

        private static MethodHandle call(SymbolLookup lib, String name, FunctionDescriptor fd, Linker.Option... options) {
            return LINKER.downcallHandle(lib.find(name).orElseThrow(() -> new IllegalArgumentException(name)), fd, options);
        }
    }

    /** The native state, shared with the cleaner (which must not reach the cipher itself). */
    private static final class Contexts implements Runnable {
        final Arena arena = Arena.ofShared();
        final MemorySegment outLength = arena.allocate(ValueLayout.JAVA_INT);
        MemorySegment encrypt = MemorySegment.NULL;
        MemorySegment decrypt = MemorySegment.NULL;
        /** The providers' own IV buffers, when writing them is known to work (see {@link #DIRECT_IV}), else null. */
        MemorySegment encryptIv;
        MemorySegment decryptIv;

        @Override
        public void run() {
            try {
                free(encrypt);
                free(decrypt);
            } finally {
                encrypt = MemorySegment.NULL;
                decrypt = MemorySegment.NULL;
                encryptIv = null;
                decryptIv = null;
                arena.close();
            }
        }

        private static void free(MemorySegment ctx) {
            if (!ctx.equals(MemorySegment.NULL)) {
                try {
                    LIBRARY.ctxFree.invokeExact(ctx);
                } catch (Throwable t) {
                    throw rethrow(t);
                }
            }
        }
    }

    private final Cleaner.Cleanable cleanable;
    private MemorySegment encryptCtx;
    private MemorySegment decryptCtx;
    private MemorySegment encryptIv;
    private MemorySegment decryptIv;
    private final MemorySegment outLength;

    private OpenSslXts(Contexts contexts) {
        this.cleanable = CLEANER.register(this, contexts);
        this.encryptCtx = contexts.encrypt;
        this.decryptCtx = contexts.decrypt;
        this.encryptIv = contexts.encryptIv;
        this.decryptIv = contexts.decryptIv;
        this.outLength = contexts.outLength;
    }

    /** Whether libcrypto could be loaded (then AES-128/256-XTS keys with distinct halves go through it). */
    static boolean available() {
        return LIBRARY != null;
    }

    /**
     * An XTS cipher keyed with {@code key} = K1 ‖ K2 (32 or 64 bytes), or empty when libcrypto is
     * missing, the key length has no OpenSSL XTS (AES-192), or OpenSSL refuses the key: its default
     * provider will not encrypt with K1 = K2 (Rogaway's attack on XEX with one key), which the kernel
     * accepts outside FIPS mode, so such keys stay on the Java implementation.
     */
    static Optional<SectorCipher> create(byte[] key) {
        return create(key, DIRECT_IV);
    }

    /** {@link #create(byte[])} with the IV set per sector through the provider's buffer, or by re-initialising. */
    static Optional<SectorCipher> create(byte[] key, boolean directIv) {
        if (LIBRARY == null || (key.length != 32 && key.length != 64)) {
            return Optional.empty();
        }
        int half = key.length / 2;
        if (Arrays.equals(key, 0, half, key, half, key.length)) {
            return Optional.empty();
        }
        MemorySegment type = key.length == 32 ? LIBRARY.aes128Xts : LIBRARY.aes256Xts;
        Contexts contexts = new Contexts();
        boolean ok = false;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment nativeKey = arena.allocate(key.length);
            try {
                MemorySegment.copy(key, 0, nativeKey, ValueLayout.JAVA_BYTE, 0, key.length);
                MemorySegment zeroIv = arena.allocate(B);
                contexts.encrypt = newContext();
                contexts.decrypt = newContext();
                ok = (int) LIBRARY.init.invokeExact(contexts.encrypt, type, MemorySegment.NULL, nativeKey, zeroIv, 1) == 1
                        && (int) LIBRARY.init.invokeExact(contexts.decrypt, type, MemorySegment.NULL, nativeKey, zeroIv, 0) == 1;
            } finally {
                nativeKey.fill((byte) 0);
            }
            if (!ok) {
                LIBRARY.clearErrors.invokeExact(); // the refusal sits on this thread's error queue otherwise
                return Optional.empty();
            }
            if (directIv) {
                contexts.encryptIv = ivBuffer(contexts.encrypt);
                contexts.decryptIv = ivBuffer(contexts.decrypt);
                ok = contexts.encryptIv != null && contexts.decryptIv != null;
                if (!ok) {
                    return Optional.empty();
                }
            }
            return Optional.of(new OpenSslXts(contexts));
        } catch (Throwable t) {
            throw rethrow(t);
        } finally {
            if (!ok) {
                contexts.run();
            }
        }
    }

    /** The provider's IV buffer of an initialised context, or null. */
    private static MemorySegment ivBuffer(MemorySegment ctx) throws Throwable {
        MemorySegment iv = (MemorySegment) LIBRARY.ivNoconst.invokeExact(ctx);
        return iv.equals(MemorySegment.NULL) ? null : iv.reinterpret(B);
    }

    /**
     * Setting the IV per sector with {@code EVP_CipherInit_ex(ctx, NULL, NULL, NULL, iv, enc)} costs
     * about 100 ns (an eighth of a 4 KiB sector's time): libcrypto looks up the IV length through the
     * provider's parameters and re-runs the provider's init. OpenSSL 3's AES-XTS takes the tweak from
     * the IV buffer in its provider context, to which {@code EVP_CIPHER_CTX_iv_noconst} returns a
     * pointer, so writing the 16 bytes there does the same for the price of a copy. Whether that holds
     * for the installed libcrypto is checked once, against re-initialising, on random keys and IVs;
     * if not, every sector re-initialises.
     */
    private static final boolean DIRECT_IV = LIBRARY != null && directIvWorks();

    private static boolean directIvWorks() {
        java.util.SplittableRandom random = new java.util.SplittableRandom();
        byte[] key = new byte[64];
        random.nextBytes(key);
        Optional<SectorCipher> direct;
        Optional<SectorCipher> reinit;
        try {
            direct = create(key, true);
            reinit = create(key, false);
        } catch (RuntimeException e) {
            return false;
        }
        if (direct.isEmpty() || reinit.isEmpty()) {
            direct.ifPresent(SectorCipher::wipe);
            reinit.ifPresent(SectorCipher::wipe);
            return false;
        }
        try {
            byte[] plain = new byte[512 + 5];
            byte[] a = new byte[plain.length];
            byte[] b = new byte[plain.length];
            byte[] iv = new byte[B];
            for (int round = 0; round < 4; round++) {
                random.nextBytes(plain);
                random.nextBytes(iv);
                int len = round % 2 == 0 ? 512 : plain.length;
                direct.get().encrypt(plain, 0, a, 0, len, iv);
                reinit.get().encrypt(plain, 0, b, 0, len, iv);
                if (!Arrays.equals(a, b)) {
                    return false;
                }
                random.nextBytes(iv);
                direct.get().decrypt(a, 0, len, iv);
                reinit.get().decrypt(b, 0, len, iv);
                if (!Arrays.equals(a, b)) {
                    return false;
                }
            }
            return true;
        } catch (RuntimeException e) {
            return false;
        } finally {
            direct.get().wipe();
            reinit.get().wipe();
        }
    }

    private static MemorySegment newContext() throws Throwable {
        MemorySegment ctx = (MemorySegment) LIBRARY.ctxNew.invokeExact();
        if (ctx.equals(MemorySegment.NULL)) {
            throw new OutOfMemoryError("EVP_CIPHER_CTX_new");
        }
        return ctx;
    }

    @Override
    public void encrypt(byte[] src, int srcOff, byte[] dst, int dstOff, int len, byte[] iv) {
        transform(encryptCtx, encryptIv, 1, src, srcOff, dst, dstOff, len, iv);
    }

    @Override
    public void decrypt(byte[] buf, int off, int len, byte[] iv) {
        transform(decryptCtx, decryptIv, 0, buf, off, buf, off, len, iv);
    }

    private void transform(MemorySegment ctx, MemorySegment ivBuffer, int enc, byte[] src, int srcOff, byte[] dst, int dstOff, int len, byte[] iv) {
        if (len < B) {
            throw new IllegalArgumentException("XTS needs at least one whole block, got " + len + " bytes");
        }
        if (ctx == null) {
            throw new IllegalStateException("the XTS key has been wiped");
        }
        if (iv.length < B) {
            throw new IllegalArgumentException("XTS needs a " + B + "-byte IV");
        }
        MemorySegment in = MemorySegment.ofArray(src).asSlice(srcOff, len);
        MemorySegment out = MemorySegment.ofArray(dst).asSlice(dstOff, len);
        try {
            boolean ivSet;
            if (ivBuffer != null) {
                MemorySegment.copy(iv, 0, ivBuffer, ValueLayout.JAVA_BYTE, 0, B);
                ivSet = true;
            } else {
                ivSet = (int) LIBRARY.initCritical.invokeExact(ctx, MemorySegment.NULL, MemorySegment.NULL, MemorySegment.NULL,
                        MemorySegment.ofArray(iv), enc) == 1;
            }
            if (!ivSet
                    || (int) LIBRARY.update.invokeExact(ctx, out, outLength, in, len) != 1
                    || outLength.get(ValueLayout.JAVA_INT, 0) != len) {
                LIBRARY.clearErrors.invokeExact();
                throw new IllegalStateException("libcrypto AES-XTS failed");
            }
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    @Override
    public void wipe() {
        encryptCtx = null;
        decryptCtx = null;
        encryptIv = null;
        decryptIv = null;
        cleanable.clean();
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) {
            return r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return new IllegalStateException(t);
    }
}
