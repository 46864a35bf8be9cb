package dev.jdm.targets.verity;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.Optional;

/**
 * OpenSSL's libcrypto digests through the FFM API. The JDK's SHA-256 runs about three times slower
 * per core than OpenSSL's on the machines we measured, and hashing is the whole cost of verity, so the
 * hasher uses libcrypto when it is there and the JDK otherwise (same digests either way).
 * Data is passed without copying: heap arrays through critical downcalls, direct buffers as they are.
 */
final class OpenSslDigest {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final Library LIBRARY = Library.load();

    /** The downcalls we use, or null when libcrypto.so.3 is not installed. */
    private record Library(MethodHandle fetch, MethodHandle size, MethodHandle ctxNew, MethodHandle ctxFree,
                           MethodHandle init, MethodHandle update, MethodHandle finish) {
        static Library load() {
            try {
                SymbolLookup lib = SymbolLookup.libraryLookup("libcrypto.so.3", Arena.global());
                Linker.Option critical = Linker.Option.critical(true);
                return new Library(
                        call(lib, "EVP_MD_fetch", FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.ADDRESS)),
                        call(lib, "EVP_MD_get_size", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS)),
                        call(lib, "EVP_MD_CTX_new", FunctionDescriptor.of(ValueLayout.ADDRESS)),
                        call(lib, "EVP_MD_CTX_free", FunctionDescriptor.ofVoid(ValueLayout.ADDRESS)),
                        call(lib, "EVP_DigestInit_ex2", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.ADDRESS)),
                        call(lib, "EVP_DigestUpdate", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG), critical),
                        call(lib, "EVP_DigestFinal_ex", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.ADDRESS), critical));
            } catch (IllegalArgumentException | UnsupportedOperationException | IllegalCallerException e) {
                return null; // no libcrypto, or native access not enabled: the JDK's digests are used
            }
        }

        private static MethodHandle call(SymbolLookup lib, String name, FunctionDescriptor fd, Linker.Option... options) {
            return LINKER.downcallHandle(lib.find(name).orElseThrow(() -> new IllegalArgumentException(name)), fd, options);
        }
    }

    private final MemorySegment md;
    private final int size;

    private OpenSslDigest(MemorySegment md, int size) {
        this.md = md;
        this.size = size;
    }

    /** The digest named as the kernel names it (sha256, sha3-256, ...), if libcrypto has it. */
    static Optional<OpenSslDigest> forName(String name) {
        if (LIBRARY == null) {
            return Optional.empty();
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment md = (MemorySegment) LIBRARY.fetch.invokeExact(MemorySegment.NULL, arena.allocateFrom(name), MemorySegment.NULL);
            if (md.equals(MemorySegment.NULL)) {
                return Optional.empty();
            }
            return Optional.of(new OpenSslDigest(md, (int) LIBRARY.size.invokeExact(md)));
        } catch (Throwable t) {
            return Optional.empty();
        }
    }

    int size() {
        return size;
    }

    /** A new EVP_MD_CTX, for {@link #digest}; free it with {@link #freeContext}. */
    MemorySegment newContext() {
        try {
            MemorySegment ctx = (MemorySegment) LIBRARY.ctxNew.invokeExact();
            if (ctx.equals(MemorySegment.NULL)) {
                throw new OutOfMemoryError("EVP_MD_CTX_new");
            }
            return ctx;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static void freeContext(MemorySegment ctx) {
        try {
            LIBRARY.ctxFree.invokeExact(ctx);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Digest of {@code first ‖ second} into {@code out} (a segment of at least {@link #size()} bytes). */
    void digest(MemorySegment ctx, MemorySegment first, MemorySegment second, MemorySegment out) {
        if (out.byteSize() < size) {
            throw new IllegalArgumentException("digest output needs " + size + " bytes");
        }
        try {
            check((int) LIBRARY.init.invokeExact(ctx, md, MemorySegment.NULL));
            if (first.byteSize() > 0) {
                check((int) LIBRARY.update.invokeExact(ctx, first, first.byteSize()));
            }
            if (second.byteSize() > 0) {
                check((int) LIBRARY.update.invokeExact(ctx, second, second.byteSize()));
            }
            check((int) LIBRARY.finish.invokeExact(ctx, out, MemorySegment.NULL));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static void check(int ok) {
        if (ok != 1) {
            throw new IllegalStateException("libcrypto digest failed");
        }
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
