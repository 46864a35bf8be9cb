package dev.jdm.tools.crash;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;

/**
 * The built-in workload ({@code jdm crash-test --ext4-files <n>}): mkfs.ext4 on the device (then the
 * mark {@value #MKFS_MARK}), mount it, write files in two directories, each followed by fsync of the
 * file and of its directory and then the mark {@code fsync-<i>}, and unmount. {@link #filesIntact()}
 * checks that every file whose mark is behind a replay point reads back exactly, with debugfs, from
 * the image (no mount needed).
 */
public final class Ext4Workload implements Workload {
    /** Logged once mkfs has finished (and flushed): check from here, there is no file system before. */
    public static final String MKFS_MARK = "mkfs";
    private static final int MAX_FILE_BYTES = 256 << 10;

    /** One file the workload writes; {@code durable} false means its data is not fsynced before its mark. */
    public record FileSpec(String path, byte[] content, String mark, boolean durable) {
    }

    private final List<FileSpec> files;

    private Ext4Workload(List<FileSpec> files) {
        this.files = List.copyOf(files);
    }

    /** {@code count} files of random sizes (1 byte to 256 KiB) and contents drawn from {@code seed}. */
    public static Ext4Workload files(int count, long seed) {
        if (count < 1) {
            throw new IllegalArgumentException("the ext4 workload needs at least one file: " + count);
        }
        SplittableRandom random = new SplittableRandom(seed);
        List<FileSpec> files = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            byte[] content = new byte[1 + random.nextInt(MAX_FILE_BYTES)];
            random.nextBytes(content);
            files.add(new FileSpec("/d" + i % 2 + "/file" + i, content, "fsync-" + i, true));
        }
        return new Ext4Workload(files);
    }

    /**
     * The same workload with a deliberate bug: file {@code index} is written without fsync (only its
     * directory is synced) and then marked as durable anyway. A harness must report the point after
     * that mark, where the file exists but its data never reached the device.
     */
    public Ext4Workload withoutDataFsync(int index) {
        List<FileSpec> changed = new ArrayList<>(files);
        FileSpec f = changed.get(index);
        changed.set(index, new FileSpec(f.path(), f.content(), f.mark(), false));
        return new Ext4Workload(changed);
    }

    public List<FileSpec> fileSpecs() {
        return files;
    }

    @Override
    public void run(Session session) throws IOException {
        String device = session.device().toString();
        // No discard: the device is new, and discarding 64 MiB through NBD only adds log entries.
        Command.run(List.of("mkfs.ext4", "-q", "-F", "-E", "nodiscard,lazy_itable_init=0", device)).orThrow();
        session.mark(MKFS_MARK);
        Path mnt = Files.createDirectories(session.workDir().resolve("mnt"));
        Command.run(List.of("mount", "-t", "ext4", device, mnt.toString())).orThrow();
        try {
            writeFiles(session, mnt);
        } catch (IOException | RuntimeException e) {
            Command umount = Command.run(List.of("umount", mnt.toString()));
            if (!umount.succeeded()) {
                e.addSuppressed(new IOException("umount " + mnt + ": " + umount.output()));
            }
            throw e;
        }
        Command.run(List.of("umount", mnt.toString())).orThrow();
    }

    private void writeFiles(Session session, Path mnt) throws IOException {
        for (FileSpec f : files) {
            Path file = mnt.resolve(f.path().substring(1));
            Path dir = Files.createDirectories(file.getParent());
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
                ByteBuffer b = ByteBuffer.wrap(f.content());
                while (b.hasRemaining()) {
                    ch.write(b);
                }
                if (f.durable()) {
                    ch.force(true);
                }
            }
            // The new name is durable only once its directory is synced too (and the parent, for a new directory).
            fsyncDirectory(dir);
            fsyncDirectory(mnt);
            session.mark(f.mark());
        }
    }

    private static void fsyncDirectory(Path dir) throws IOException {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        }
    }

    /** The check that every file whose fsync mark is behind the point reads back byte for byte (debugfs cat). */
    public PointCheck filesIntact() {
        return new PointCheck() {
            @Override
            public Optional<String> check(ReplayPoint point) throws IOException {
                List<String> problems = new ArrayList<>();
                for (FileSpec f : files) {
                    if (point.marks().contains(f.mark())) {
                        Command cat = Command.run(List.of("debugfs", "-R", "cat " + f.path(), point.image().toString()));
                        difference(f, cat).ifPresent(problems::add);
                    }
                }
                return problems.isEmpty() ? Optional.empty() : Optional.of(String.join("\n", problems));
            }

            @Override
            public String name() {
                return "ext4 files";
            }
        };
    }

    private static Optional<String> difference(FileSpec f, Command cat) {
        byte[] actual = cat.stdout();
        if (!cat.succeeded()) {
            return Optional.of(f.path() + " (" + f.mark() + "): debugfs exited " + cat.exit() + ": " + cat.output());
        }
        if (Arrays.equals(actual, f.content())) {
            return Optional.empty();
        }
        int at = Arrays.mismatch(actual, f.content());
        String debugfsSaid = new String(cat.stderr(), StandardCharsets.UTF_8).lines()
                .filter(l -> !l.startsWith("debugfs ")).findFirst().map(l -> " (debugfs: " + l.strip() + ")").orElse("");
        return Optional.of(f.path() + " (" + f.mark() + "): read " + actual.length + " bytes, expected " + f.content().length
                + ", first difference at byte " + at + debugfsSaid);
    }
}
