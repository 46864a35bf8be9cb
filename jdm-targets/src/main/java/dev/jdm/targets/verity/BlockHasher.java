package dev.jdm.targets.verity;

import java.lang.foreign.MemorySegment;
import java.lang.ref.Cleaner;
import java.nio.ByteBuffer;
import java.security.DigestException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * Salted block digests as dm-verity computes them: version 1 hashes {@code salt ‖ block}, version 0
 * (Chrome OS) hashes {@code block ‖ salt}. Safe for concurrent use: each call borrows a digest context
 * from a small pool, so virtual threads never allocate one per block. OpenSSL's libcrypto computes the
 * digests when it is installed ({@link OpenSslDigest}), the JDK otherwise.
 */
public final class BlockHasher {

    /** Kernel crypto API names the JDK can compute, mapped to the JDK's names. */
    private static final Map<String, String> KERNEL_TO_JDK = Map.ofEntries(
            Map.entry("md5", "MD5"),
            Map.entry("sha1", "SHA-1"),
            Map.entry("sha224", "SHA-224"),
            Map.entry("sha256", "SHA-256"),
            Map.entry("sha384", "SHA-384"),
            Map.entry("sha512", "SHA-512"),
            Map.entry("sha3-224", "SHA3-224"),
            Map.entry("sha3-256", "SHA3-256"),
            Map.entry("sha3-384", "SHA3-384"),
            Map.entry("sha3-512", "SHA3-512"));

    private static final Cleaner CLEANER = Cleaner.create();

    private final String algorithm;
    private final String jdkName;
    private final int version;
    private final byte[] salt;
    private final int digestSize;
    private final ConcurrentLinkedQueue<MessageDigest> pool = new ConcurrentLinkedQueue<>();
    /** libcrypto's implementation when present (several times faster), else null. */
    private final OpenSslDigest openssl;
    private final MemorySegment saltSegment;
    private final ConcurrentLinkedQueue<MemorySegment> contexts = new ConcurrentLinkedQueue<>();

    private BlockHasher(String algorithm, String jdkName, int version, byte[] salt) {
        this.algorithm = algorithm;
        this.jdkName = jdkName;
        this.version = version;
        this.salt = salt.clone();
        MessageDigest md = newDigest();
        this.digestSize = md.getDigestLength();
        pool.add(md);
        this.openssl = OpenSslDigest.forName(algorithm).filter(d -> d.size() == digestSize).orElse(null);
        this.saltSegment = MemorySegment.ofArray(this.salt);
        if (openssl != null) {
            ConcurrentLinkedQueue<MemorySegment> pooled = contexts;
            CLEANER.register(this, () -> pooled.forEach(OpenSslDigest::freeContext));
        }
    }

    /** The hasher for a kernel algorithm name ({@code sha256}), or empty when the JDK lacks it. */
    public static Optional<BlockHasher> forKernelName(String algorithm, int version, byte[] salt) {
        String jdk = KERNEL_TO_JDK.get(algorithm);
        return jdk == null ? Optional.empty() : Optional.of(new BlockHasher(algorithm, jdk, version, salt));
    }

    /** Lower-cases the name the way veritysetup stores it ("SHA256" is written as "sha256"). */
    public static String normalizeName(String algorithm) {
        return algorithm.toLowerCase(Locale.ROOT);
    }

    private MessageDigest newDigest() {
        try {
            return MessageDigest.getInstance(jdkName);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("JDK lost digest " + jdkName, e);
        }
    }

    public String algorithm() {
        return algorithm;
    }

    public int version() {
        return version;
    }

    public byte[] salt() {
        return salt.clone();
    }

    public int digestSize() {
        return digestSize;
    }

    /** Whether digests are computed by OpenSSL's libcrypto rather than the JDK. */
    public boolean usesOpenSsl() {
        return openssl != null;
    }

    /** Digest of the remaining bytes of {@code block} (its position is left unchanged) into {@code out[0..digestSize)}. */
    public void digest(ByteBuffer block, byte[] out) {
        if (out.length < digestSize) {
            throw new IllegalArgumentException("digest output needs " + digestSize + " bytes, got " + out.length);
        }
        if (openssl != null) {
            MemorySegment data = MemorySegment.ofBuffer(block);
            MemorySegment ctx = contexts.poll();
            if (ctx == null) {
                ctx = openssl.newContext();
            }
            try {
                if (version == 1) {
                    openssl.digest(ctx, saltSegment, data, MemorySegment.ofArray(out));
                } else {
                    openssl.digest(ctx, data, saltSegment, MemorySegment.ofArray(out));
                }
            } finally {
                contexts.offer(ctx);
            }
            return;
        }
        MessageDigest md = borrow();
        try {
            if (version == 1) {
                md.update(salt);
            }
            md.update(block.duplicate());
            if (version == 0) {
                md.update(salt);
            }
            md.digest(out, 0, digestSize);
        } catch (DigestException e) {
            throw new IllegalStateException(e);
        } finally {
            pool.offer(md);
        }
    }

    public void digest(byte[] block, int offset, int length, byte[] out) {
        digest(ByteBuffer.wrap(block, offset, length), out);
    }

    private MessageDigest borrow() {
        MessageDigest md = pool.poll();
        if (md == null) {
            return newDigest();
        }
        md.reset();
        return md;
    }
}
