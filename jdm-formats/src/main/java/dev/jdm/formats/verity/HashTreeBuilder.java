package dev.jdm.formats.verity;

import dev.jdm.targets.verity.BlockHasher;
import dev.jdm.targets.verity.HashTree;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.IntStream;

/**
 * Writes or checks a hash tree level by level, bottom up, as veritysetup does, but with each level
 * split into independent runs of hash blocks hashed in parallel (each worker maps or reads a few MiB of
 * the level below at once and hashes it with its own digest context).
 */
final class HashTreeBuilder {
    /** Bytes of the lower level each task reads at once. */
    private static final int TASK_INPUT_BYTES = 4 << 20;

    private final HashTree tree;
    private final BlockHasher hasher;
    private final int dataBlockSize;
    /** Per-worker direct read buffers for devices that cannot be mapped. */
    private final ThreadLocal<ByteBuffer> inputBuffers = new ThreadLocal<>();

    HashTreeBuilder(HashTree tree, BlockHasher hasher, int dataBlockSize) {
        this.tree = tree;
        this.hasher = hasher;
        this.dataBlockSize = dataBlockSize;
    }

    /** A failed check, at the byte position veritysetup reports. */
    private record Mismatch(long position, boolean spare) {
        String message() {
            return spare ? "Spare area is not zeroed at position " + position + "."
                    : "Verification failed at position " + position + ".";
        }
    }

    /** Builds the tree on {@code hash} from {@code data}; returns the root digest. */
    byte[] create(FileChannel data, FileChannel hash) throws IOException {
        run(data, hash, false);
        return root(data, hash);
    }

    /** Checks every stored digest and spare area; returns the computed root digest. */
    byte[] verify(FileChannel data, FileChannel hash) throws IOException {
        run(data, hash, true);
        return root(data, hash);
    }

    private void run(FileChannel data, FileChannel hash, boolean verify) throws IOException {
        for (int level = 0; level < tree.levels(); level++) {
            FileChannel source = level == 0 ? data : hash;
            long sourceOffset = level == 0 ? 0 : tree.levelStart(level - 1) * tree.hashBlockSize();
            int childSize = level == 0 ? dataBlockSize : tree.hashBlockSize();
            long children = level == 0 ? tree.dataBlocks() : tree.levelBlocks(level - 1);
            long outBlocks = tree.levelBlocks(level);
            long outOffset = tree.levelStart(level) * tree.hashBlockSize();
            int perTask = (int) Math.max(1, TASK_INPUT_BYTES / ((long) tree.digestsPerBlock() * childSize));
            int tasks = Math.toIntExact((outBlocks + perTask - 1) / perTask);
            AtomicReference<Mismatch> first = new AtomicReference<>();
            try {
                IntStream.range(0, tasks).parallel().forEach(t -> {
                    long h0 = (long) t * perTask;
                    long h1 = Math.min(outBlocks, h0 + perTask);
                    try {
                        Mismatch m = hashRun(source, sourceOffset, childSize, children, hash, outOffset, h0, h1, verify);
                        if (m != null) {
                            first.accumulateAndGet(m, (a, b) -> a == null || b.position < a.position ? b : a);
                        }
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                });
            } catch (UncheckedIOException e) {
                throw e.getCause();
            }
            if (first.get() != null) {
                throw new VerityException(first.get().message());
            }
        }
    }

    /** Computes hash blocks [h0, h1) of a level from their children; writes them, or compares them with the disk. */
    private Mismatch hashRun(FileChannel source, long sourceOffset, int childSize, long children,
                             FileChannel hash, long outOffset, long h0, long h1, boolean verify) throws IOException {
        int perBlock = tree.digestsPerBlock();
        int stride = tree.digestStride();
        int digestSize = hasher.digestSize();
        int hbs = tree.hashBlockSize();
        long c0 = h0 * perBlock;
        long c1 = Math.min(children, h1 * perBlock);
        int inputBytes = Math.toIntExact((c1 - c0) * childSize);
        byte[] out = new byte[Math.toIntExact((h1 - h0) * hbs)];
        byte[] digest = new byte[digestSize];
        long from = sourceOffset + c0 * childSize;
        // Regular files are mapped, so the digest reads the page cache with no copy; block devices
        // (whose channel size reads 0) go through a read buffer.
        boolean mapped = from + inputBytes <= source.size();
        try (Arena arena = Arena.ofConfined()) {
            ByteBuffer input;
            if (mapped) {
                input = source.map(FileChannel.MapMode.READ_ONLY, from, inputBytes, arena).asByteBuffer();
            } else {
                input = inputBuffer(inputBytes);
                readFully(source, input.slice(0, inputBytes), from);
            }
            for (long c = c0; c < c1; c++) {
                int i = (int) (c - c0);
                hasher.digest(input.slice(i * childSize, childSize), digest);
                long h = c / perBlock - h0;
                System.arraycopy(digest, 0, out, (int) (h * hbs + (c % perBlock) * stride), digestSize);
            }
        }
        long position = outOffset + h0 * hbs;
        if (!verify) {
            writeFully(hash, ByteBuffer.wrap(out), position);
            return null;
        }
        byte[] stored = new byte[out.length];
        readFully(hash, ByteBuffer.wrap(stored), position);
        int at = Arrays.mismatch(out, stored);
        if (at < 0) {
            return null;
        }
        long block = at / hbs;
        int inBlock = at % hbs;
        long firstChild = (h0 + block) * perBlock;
        int used = (int) Math.min(perBlock, children - firstChild);
        int slot = inBlock / stride;
        long blockStart = position + block * hbs;
        if (slot < used && inBlock % stride < digestSize) {
            return new Mismatch(sourceOffset + (firstChild + slot) * childSize, false);
        }
        long spareStart = slot < used ? blockStart + (long) slot * stride + digestSize : blockStart + (long) used * stride;
        return new Mismatch(spareStart, true);
    }

    private byte[] root(FileChannel data, FileChannel hash) throws IOException {
        byte[] block;
        if (tree.levels() == 0) {
            block = new byte[dataBlockSize];
            readFully(data, ByteBuffer.wrap(block), 0);
        } else {
            block = new byte[tree.hashBlockSize()];
            readFully(hash, ByteBuffer.wrap(block), tree.levelStart(tree.levels() - 1) * tree.hashBlockSize());
        }
        byte[] root = new byte[hasher.digestSize()];
        hasher.digest(block, 0, block.length, root);
        return root;
    }

    private ByteBuffer inputBuffer(int size) {
        ByteBuffer b = inputBuffers.get();
        if (b == null || b.capacity() < size) {
            b = ByteBuffer.allocateDirect(Math.max(size, TASK_INPUT_BYTES));
            inputBuffers.set(b);
        }
        return b;
    }

    static void readFully(FileChannel ch, ByteBuffer dst, long position) throws IOException {
        while (dst.hasRemaining()) {
            int n = ch.read(dst, position);
            if (n < 0) {
                throw new VerityException("Input/output error while creating hash area.");
            }
            position += n;
        }
    }

    static void writeFully(FileChannel ch, ByteBuffer src, long position) throws IOException {
        while (src.hasRemaining()) {
            position += ch.write(src, position);
        }
    }
}
