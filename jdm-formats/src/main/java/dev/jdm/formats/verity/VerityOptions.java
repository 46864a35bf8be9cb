package dev.jdm.formats.verity;

import java.nio.file.Path;
import java.util.EnumSet;
import java.util.Set;

/**
 * The options of {@code veritysetup format|verify|dump|open}, under veritysetup's names and with its
 * defaults (see docs/verity.md). Immutable; change one option with the matching {@code withX}.
 *
 * @param hash          --hash: kernel name of the digest (sha256)
 * @param dataBlockSize --data-block-size in bytes (4096)
 * @param hashBlockSize --hash-block-size in bytes (4096)
 * @param dataBlocks    --data-blocks: blocks to protect; 0 = the whole data device
 * @param hashOffset    --hash-offset: byte offset of the superblock (or of the tree with --no-superblock)
 * @param noSuperblock  --no-superblock: write/read no header; every parameter comes from these options
 * @param salt          --salt as hex, "-" for none, null for 32 random bytes
 * @param format        --format: 1 normal, 0 original Chrome OS
 * @param fecDevice     --fec-device: where Reed-Solomon parity goes (null: no FEC)
 * @param fecRoots      --fec-roots: parity bytes per codeword, 2..24 (2)
 * @param fecOffset     --fec-offset: byte offset of the parity on the FEC device
 * @param uuid          --uuid for the header (null: random)
 * @param activation    open's flags: --ignore-corruption, --restart-on-corruption, ...
 */
public record VerityOptions(String hash, int dataBlockSize, int hashBlockSize, long dataBlocks, long hashOffset,
                            boolean noSuperblock, String salt, int format, Path fecDevice, int fecRoots,
                            long fecOffset, String uuid, Set<Activation> activation) {

    /** veritysetup open's activation flags, with the table word each one adds. */
    public enum Activation {
        IGNORE_CORRUPTION("ignore_corruption"),
        RESTART_ON_CORRUPTION("restart_on_corruption"),
        PANIC_ON_CORRUPTION("panic_on_corruption"),
        IGNORE_ZERO_BLOCKS("ignore_zero_blocks"),
        CHECK_AT_MOST_ONCE("check_at_most_once"),
        USE_TASKLETS("try_verify_in_tasklet");

        public final String tableWord;

        Activation(String tableWord) {
            this.tableWord = tableWord;
        }
    }

    public VerityOptions {
        activation = activation.isEmpty() ? Set.of() : Set.copyOf(EnumSet.copyOf(activation));
    }

    public static VerityOptions defaults() {
        return new VerityOptions("sha256", 4096, 4096, 0, 0, false, null, 1, null, 2, 0, null, Set.of());
    }

    /** veritysetup's VERITY_BLOCK_SIZE_OK: a power of two from 512 bytes to 512 KiB. */
    static boolean blockSizeOk(long size) {
        return size >= 512 && size <= 512 * 1024 && (size & (size - 1)) == 0;
    }

    public VerityOptions withHash(String v) {
        return new VerityOptions(v, dataBlockSize, hashBlockSize, dataBlocks, hashOffset, noSuperblock, salt, format, fecDevice, fecRoots, fecOffset, uuid, activation);
    }

    public VerityOptions withDataBlockSize(int v) {
        return new VerityOptions(hash, v, hashBlockSize, dataBlocks, hashOffset, noSuperblock, salt, format, fecDevice, fecRoots, fecOffset, uuid, activation);
    }

    public VerityOptions withHashBlockSize(int v) {
        return new VerityOptions(hash, dataBlockSize, v, dataBlocks, hashOffset, noSuperblock, salt, format, fecDevice, fecRoots, fecOffset, uuid, activation);
    }

    public VerityOptions withDataBlocks(long v) {
        return new VerityOptions(hash, dataBlockSize, hashBlockSize, v, hashOffset, noSuperblock, salt, format, fecDevice, fecRoots, fecOffset, uuid, activation);
    }

    public VerityOptions withHashOffset(long v) {
        return new VerityOptions(hash, dataBlockSize, hashBlockSize, dataBlocks, v, noSuperblock, salt, format, fecDevice, fecRoots, fecOffset, uuid, activation);
    }

    public VerityOptions withNoSuperblock(boolean v) {
        return new VerityOptions(hash, dataBlockSize, hashBlockSize, dataBlocks, hashOffset, v, salt, format, fecDevice, fecRoots, fecOffset, uuid, activation);
    }

    public VerityOptions withSalt(String v) {
        return new VerityOptions(hash, dataBlockSize, hashBlockSize, dataBlocks, hashOffset, noSuperblock, v, format, fecDevice, fecRoots, fecOffset, uuid, activation);
    }

    public VerityOptions withFormat(int v) {
        return new VerityOptions(hash, dataBlockSize, hashBlockSize, dataBlocks, hashOffset, noSuperblock, salt, v, fecDevice, fecRoots, fecOffset, uuid, activation);
    }

    public VerityOptions withFecDevice(Path v) {
        return new VerityOptions(hash, dataBlockSize, hashBlockSize, dataBlocks, hashOffset, noSuperblock, salt, format, v, fecRoots, fecOffset, uuid, activation);
    }

    public VerityOptions withFecRoots(int v) {
        return new VerityOptions(hash, dataBlockSize, hashBlockSize, dataBlocks, hashOffset, noSuperblock, salt, format, fecDevice, v, fecOffset, uuid, activation);
    }

    public VerityOptions withFecOffset(long v) {
        return new VerityOptions(hash, dataBlockSize, hashBlockSize, dataBlocks, hashOffset, noSuperblock, salt, format, fecDevice, fecRoots, v, uuid, activation);
    }

    public VerityOptions withUuid(String v) {
        return new VerityOptions(hash, dataBlockSize, hashBlockSize, dataBlocks, hashOffset, noSuperblock, salt, format, fecDevice, fecRoots, fecOffset, v, activation);
    }

    public VerityOptions withActivation(Set<Activation> v) {
        return new VerityOptions(hash, dataBlockSize, hashBlockSize, dataBlocks, hashOffset, noSuperblock, salt, format, fecDevice, fecRoots, fecOffset, uuid, v);
    }
}
