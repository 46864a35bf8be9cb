package dev.jdm.formats.verity;

import dev.jdm.targets.verity.FecLayout;
import dev.jdm.targets.verity.HashTree;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.UUID;

/**
 * {@code jdm verity format | verify | dump | open}: the operations of veritysetup, producing and reading
 * the same superblock, hash tree and FEC parity, so images made by either tool work with the other.
 * Options carry veritysetup's names ({@link VerityOptions}); messages are veritysetup's.
 */
public final class Veritysetup {
    /** veritysetup's DEFAULT_VERITY_SALT_SIZE. */
    private static final int DEFAULT_SALT_BYTES = 32;
    private static final int MAX_SALT_BYTES = 256;

    private Veritysetup() {
    }

    /**
     * What format and verify found.
     *
     * @param report   the text veritysetup prints for this volume (its {@code crypt_dump})
     * @param messages what veritysetup would print on stderr although the operation succeeded (FEC repairs)
     */
    public record Result(VerityParams params, byte[] rootHash, String report, String messages) {
        public String rootHashHex() {
            return HexFormat.of().formatHex(rootHash);
        }
    }

    /** {@code veritysetup format <data> <hash>}: writes the tree (and FEC parity, and the header) and returns the root hash. */
    public static Result format(Path data, Path hash, VerityOptions o) throws IOException {
        VerityParams p = paramsForFormat(data, hash, o);
        HashTree tree = p.tree();
        createIfMissing(hash);
        if (p.fecDevice() != null) {
            createIfMissing(p.fecDevice());
        }
        byte[] root;
        try (FileChannel dataCh = FileChannel.open(data, StandardOpenOption.READ);
             FileChannel hashCh = FileChannel.open(hash, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            root = new HashTreeBuilder(tree, p.hasher(), p.dataBlockSize()).create(dataCh, hashCh);
            hashCh.force(true);
            if (p.fecDevice() != null) {
                FecLayout layout = fecLayout(p, hash);
                try (FileChannel fecCh = FileChannel.open(p.fecDevice(), StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                    new FecCodec(layout, dataCh, p.dataBlocks(), hashCh, p.hashOffsetBlock()).encode(fecCh, p.fecAreaOffset());
                    fecCh.force(true);
                }
            }
            if (!p.noSuperblock()) {
                VeritySuperblock sb = new VeritySuperblock(p.hashType(), UUID.fromString(p.uuid()), p.algorithm(),
                        p.dataBlockSize(), p.hashBlockSize(), p.dataBlocks(), p.salt());
                HashTreeBuilder.writeFully(hashCh, ByteBuffer.wrap(sb.encode()), p.hashAreaOffset());
                hashCh.force(true);
            }
        }
        return new Result(p, root, report(hash, p, root), "");
    }

    /**
     * {@code veritysetup verify <data> <hash> <root>}: checks every digest, spare area and the root.
     * With a FEC device, damaged data that the parity can repair is accepted (as veritysetup does; the
     * result's messages say how much was found); a wrong root hash never is.
     */
    public static Result verify(Path data, Path hash, String rootHex, VerityOptions o) throws IOException {
        VerityParams p = load(data, hash, o);
        byte[] want = rootHash(p, rootHex);
        try (FileChannel dataCh = FileChannel.open(data, StandardOpenOption.READ);
             FileChannel hashCh = FileChannel.open(hash, StandardOpenOption.READ)) {
            try {
                byte[] root = new HashTreeBuilder(p.tree(), p.hasher(), p.dataBlockSize()).verify(dataCh, hashCh);
                if (!Arrays.equals(root, want)) {
                    throw new VerityException("Verification of root hash failed.");
                }
                return new Result(p, root, report(hash, p, root), "");
            } catch (VerityException e) {
                if (p.fecDevice() == null) {
                    throw e;
                }
                boolean rootFailed = e.getMessage().startsWith("Verification of root hash");
                String failure = rootFailed ? e.getMessage() : e.getMessage() + "\nVerification of data area failed.";
                FecLayout layout = fecLayout(p, hash);
                long errors;
                try (FileChannel fecCh = FileChannel.open(p.fecDevice(), StandardOpenOption.READ)) {
                    errors = new FecCodec(layout, dataCh, p.dataBlocks(), hashCh, p.hashOffsetBlock()).check(fecCh, p.fecAreaOffset());
                } catch (VerityException beyond) {
                    throw new VerityException(failure + "\n" + beyond.getMessage(), e);
                }
                String messages = errors == 0 ? failure : failure + "\nFound " + errors + " repairable errors with FEC device.";
                if (rootFailed) {
                    throw new VerityException(messages, e);
                }
                return new Result(p, want, report(hash, p, want), messages);
            }
        }
    }

    /** {@code veritysetup dump <hash>}: the header as veritysetup prints it. */
    public static String dump(Path hash, VerityOptions o) throws IOException {
        if (o.noSuperblock()) {
            throw new VerityException("Verity device " + hash + " does not use on-disk header.");
        }
        VerityParams p = load(null, hash, o);
        return report(hash, p, null);
    }

    /**
     * {@code veritysetup open <data> <name> <hash> <root>}: the table line veritysetup would load for the
     * device (files appear by absolute path, as jdm tables name them).
     */
    public static String open(Path data, Path hash, String rootHex, VerityOptions o) throws IOException {
        VerityParams p = load(data, hash, o);
        HexFormat hex = HexFormat.of();
        byte[] root = rootHash(p, rootHex);
        long sectors = p.dataBlocks() * p.dataBlockSize() / 512;
        StringBuilder sb = new StringBuilder();
        sb.append("0 ").append(sectors).append(" verity ").append(p.hashType()).append(' ')
                .append(devicePath(data)).append(' ').append(devicePath(hash)).append(' ')
                .append(p.dataBlockSize()).append(' ').append(p.hashBlockSize()).append(' ')
                .append(p.dataBlocks()).append(' ').append(p.hashOffsetBlock()).append(' ')
                .append(p.algorithm()).append(' ').append(hex.formatHex(root)).append(' ')
                .append(p.salt().length == 0 ? "-" : hex.formatHex(p.salt()));
        List<String> flags = new ArrayList<>();
        // veritysetup drops the weaker of conflicting corruption modes
        boolean panic = o.activation().contains(VerityOptions.Activation.PANIC_ON_CORRUPTION);
        boolean restart = !panic && o.activation().contains(VerityOptions.Activation.RESTART_ON_CORRUPTION);
        boolean ignore = !panic && !restart && o.activation().contains(VerityOptions.Activation.IGNORE_CORRUPTION);
        if (ignore) {
            flags.add(VerityOptions.Activation.IGNORE_CORRUPTION.tableWord);
        }
        if (restart) {
            flags.add(VerityOptions.Activation.RESTART_ON_CORRUPTION.tableWord);
        }
        if (panic) {
            flags.add(VerityOptions.Activation.PANIC_ON_CORRUPTION.tableWord);
        }
        for (VerityOptions.Activation a : List.of(VerityOptions.Activation.IGNORE_ZERO_BLOCKS,
                VerityOptions.Activation.CHECK_AT_MOST_ONCE, VerityOptions.Activation.USE_TASKLETS)) {
            if (o.activation().contains(a)) {
                flags.add(a.tableWord);
            }
        }
        String fec = "";
        if (p.fecDevice() != null) {
            FecLayout layout = fecLayout(p, hash);
            fec = " use_fec_from_device " + devicePath(p.fecDevice()) + " fec_start " + p.fecAreaOffset() / p.hashBlockSize()
                    + " fec_blocks " + layout.fecBlocks() + " fec_roots " + p.fecRoots();
        }
        int count = flags.size() + (fec.isEmpty() ? 0 : 8);
        if (count > 0) {
            sb.append(' ').append(count);
            flags.forEach(f -> sb.append(' ').append(f));
        }
        return sb.append(fec).toString();
    }

    private static String devicePath(Path p) {
        return p.toAbsolutePath().normalize().toString();
    }

    private static byte[] rootHash(VerityParams p, String rootHex) throws VerityException {
        try {
            byte[] root = HexFormat.of().parseHex(rootHex);
            if (root.length == p.hasher().digestSize()) {
                return root;
            }
        } catch (IllegalArgumentException e) {
            // fall through to veritysetup's message
        }
        throw new VerityException("Invalid root hash string specified.");
    }

    /** Parameters for verify/dump/open: from the header, or from the options with --no-superblock. */
    private static VerityParams load(Path data, Path hash, VerityOptions o) throws IOException {
        if (o.noSuperblock()) {
            return paramsFromOptions(data, o, null);
        }
        if (o.hashOffset() % 512 != 0) {
            throw new VerityException("Unsupported VERITY hash offset.");
        }
        byte[] raw = new byte[VeritySuperblock.SIZE];
        try (FileChannel ch = FileChannel.open(hash, StandardOpenOption.READ)) {
            if (ch.read(ByteBuffer.wrap(raw), o.hashOffset()) < VeritySuperblock.SIZE) {
                throw new VerityException("Device " + hash + " is not a valid VERITY device.");
            }
        }
        VeritySuperblock sb;
        try {
            sb = VeritySuperblock.decode(raw);
        } catch (VerityException e) {
            throw new VerityException("Device " + hash + " is not a valid VERITY device.", e);
        }
        VerityParams p = new VerityParams(sb.uuid().toString(), sb.hashType(), sb.algorithm(), sb.dataBlockSize(),
                sb.hashBlockSize(), sb.dataBlocks(), sb.salt(), o.hashOffset(), false, o.fecDevice(), o.fecRoots(),
                o.fecOffset());
        p.hasher();
        return p;
    }

    private static VerityParams paramsForFormat(Path data, Path hash, VerityOptions o) throws IOException {
        String uuid = null;
        if (!o.noSuperblock()) {
            uuid = o.uuid() == null ? UUID.randomUUID().toString() : canonicalUuid(o.uuid(), hash);
        }
        VerityParams p = paramsFromOptions(data, o, uuid);
        if (Files.exists(hash) && Files.isSameFile(data, hash)
                && p.dataBlocks() * p.dataBlockSize() > p.hashAreaOffset()) {
            throw new VerityException("Data area overlaps with hash area.");
        }
        if (p.fecDevice() != null) {
            validateFec(p);
            long hashEnd = p.hashAreaOffset() + p.tree().hashBlocks() * p.hashBlockSize();
            if (Files.exists(p.fecDevice()) && Files.exists(hash) && Files.isSameFile(hash, p.fecDevice())
                    && hashEnd > p.fecAreaOffset()) {
                throw new VerityException("Hash area overlaps with FEC area.");
            }
            if (Files.exists(p.fecDevice()) && Files.isSameFile(data, p.fecDevice())
                    && p.dataBlocks() * p.dataBlockSize() > p.fecAreaOffset()) {
                throw new VerityException("Data area overlaps with FEC area.");
            }
        }
        return p;
    }

    private static String canonicalUuid(String text, Path hash) throws VerityException {
        try {
            UUID u = UUID.fromString(text);
            if (u.toString().equalsIgnoreCase(text)) {
                return text.toLowerCase(Locale.ROOT);
            }
        } catch (IllegalArgumentException e) {
            // fall through
        }
        throw new VerityException("Wrong VERITY UUID format provided on device " + hash + ".");
    }

    private static VerityParams paramsFromOptions(Path data, VerityOptions o, String uuid) throws IOException {
        if (o.format() != 0 && o.format() != 1) {
            throw new VerityException("Unsupported VERITY hash type " + o.format() + ".");
        }
        if (!VerityOptions.blockSizeOk(o.dataBlockSize()) || !VerityOptions.blockSizeOk(o.hashBlockSize())) {
            throw new VerityException("Unsupported VERITY block size.");
        }
        if (o.hashOffset() % 512 != 0) {
            throw new VerityException("Unsupported VERITY hash offset.");
        }
        if (o.fecOffset() % 512 != 0) {
            throw new VerityException("Unsupported VERITY FEC offset.");
        }
        byte[] salt;
        if ("-".equals(o.salt())) {
            salt = new byte[0];
        } else if (o.salt() != null) {
            try {
                salt = HexFormat.of().parseHex(o.salt());
            } catch (IllegalArgumentException e) {
                throw new VerityException("Invalid salt string specified.");
            }
            if (salt.length > MAX_SALT_BYTES) {
                throw new VerityException("Invalid salt string specified.");
            }
        } else {
            salt = new byte[DEFAULT_SALT_BYTES];
            new SecureRandom().nextBytes(salt);
        }
        long dataBlocks = o.dataBlocks();
        if (dataBlocks == 0 && data != null) {
            dataBlocks = Files.size(data) / o.dataBlockSize();
        }
        VerityParams p = new VerityParams(uuid, o.format(), o.hash().toLowerCase(Locale.ROOT), o.dataBlockSize(),
                o.hashBlockSize(), dataBlocks, salt, o.hashOffset(), o.noSuperblock(), o.fecDevice(), o.fecRoots(),
                o.fecOffset());
        p.hasher();
        return p;
    }

    private static void validateFec(VerityParams p) throws VerityException {
        if (p.dataBlockSize() != p.hashBlockSize()) {
            throw new VerityException("Block sizes must match for FEC.");
        }
        if (p.fecRoots() < 2 || p.fecRoots() > 24) {
            throw new VerityException("Invalid number of parity bytes.");
        }
    }

    /**
     * The blocks FEC protects (veritysetup's VERITY_FEC_blocks): the data, then the hash device from the
     * tree start up to its end, or up to the FEC area when the parity lives on the hash device.
     */
    private static FecLayout fecLayout(VerityParams p, Path hash) throws IOException {
        validateFec(p);
        long bytes = sameFile(hash, p.fecDevice()) ? p.fecAreaOffset() : Files.size(hash);
        long blocks = bytes / p.dataBlockSize();
        if (blocks > 0) {
            blocks -= p.hashOffsetBlock();
        }
        return new FecLayout(p.fecRoots(), p.dataBlockSize(), blocks + p.dataBlocks());
    }

    private static boolean sameFile(Path a, Path b) throws IOException {
        return Files.exists(a) && Files.exists(b) && Files.isSameFile(a, b);
    }

    private static void createIfMissing(Path p) throws IOException {
        if (!Files.exists(p)) {
            Files.createFile(p);
        }
    }

    /** veritysetup's crypt_dump for a verity device (VERITY_dump), line for line. */
    private static String report(Path hash, VerityParams p, byte[] root) throws IOException {
        HexFormat hex = HexFormat.of();
        HashTree tree = p.tree();
        long verityBlocks = p.hashOffsetBlock() + tree.hashBlocks();
        FecLayout fec = null;
        boolean fecOnHash = false;
        if (p.fecDevice() != null && p.fecRoots() != 0 && p.dataBlockSize() == p.hashBlockSize()
                && p.fecRoots() >= 2 && p.fecRoots() <= 24) {
            fec = fecLayout(p, hash);
            fecOnHash = sameFile(hash, p.fecDevice());
            if (fecOnHash) {
                verityBlocks += fec.parityBlocks();
            }
        }
        StringBuilder sb = new StringBuilder();
        sb.append("VERITY header information for ").append(hash).append('\n');
        sb.append("UUID:            \t").append(p.uuid() == null ? "" : p.uuid()).append('\n');
        sb.append("Hash type:       \t").append(p.hashType()).append('\n');
        sb.append("Data blocks:     \t").append(p.dataBlocks()).append('\n');
        sb.append("Data block size: \t").append(p.dataBlockSize()).append('\n');
        sb.append("Hash blocks:     \t").append(tree.hashBlocks()).append('\n');
        sb.append("Hash block size: \t").append(p.hashBlockSize()).append('\n');
        sb.append("Hash algorithm:  \t").append(p.algorithm()).append('\n');
        if (fec != null) {
            sb.append("FEC RS roots:   \t").append(p.fecRoots()).append('\n');
            sb.append("FEC blocks:     \t").append(fec.parityBlocks()).append('\n');
        }
        sb.append("Salt:            \t").append(p.salt().length == 0 ? "-" : hex.formatHex(p.salt())).append('\n');
        if (root != null) {
            sb.append("Root hash:      \t").append(hex.formatHex(root)).append('\n');
        }
        if (p.hashAreaOffset() == 0) {
            sb.append("Hash device size: \t").append(verityBlocks * p.hashBlockSize()).append(" [bytes]\n");
        }
        if (fec != null && p.fecAreaOffset() == 0 && !fecOnHash) {
            sb.append("FEC device size: \t").append(fec.parityBlocks() * p.dataBlockSize()).append(" [bytes]\n");
        }
        return sb.toString();
    }
}
