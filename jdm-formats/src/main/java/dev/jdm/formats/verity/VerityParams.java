package dev.jdm.formats.verity;

import dev.jdm.targets.verity.BlockHasher;
import dev.jdm.targets.verity.HashTree;

import java.nio.file.Path;

/**
 * Everything a verity volume is made of once options and header are resolved (cryptsetup's
 * {@code struct crypt_params_verity} plus the header UUID).
 *
 * @param uuid            header UUID, null without a superblock
 * @param hashType        format version: 1 normal, 0 Chrome OS
 * @param hashAreaOffset  byte offset of the superblock (or of the tree without one) on the hash device
 * @param fecAreaOffset   byte offset of the parity on the FEC device
 */
public record VerityParams(String uuid, int hashType, String algorithm, int dataBlockSize, int hashBlockSize,
                           long dataBlocks, byte[] salt, long hashAreaOffset, boolean noSuperblock,
                           Path fecDevice, int fecRoots, long fecAreaOffset) {

    public VerityParams {
        salt = salt.clone();
    }

    @Override
    public byte[] salt() {
        return salt.clone();
    }

    /**
     * First block of the tree, in hash blocks: the header takes the rest of its block
     * (veritysetup's VERITY_hash_offset_block; this is the table's hash_start_block).
     */
    public long hashOffsetBlock() {
        if (noSuperblock) {
            return hashAreaOffset / hashBlockSize;
        }
        return (hashAreaOffset + VeritySuperblock.SIZE + hashBlockSize - 1) / hashBlockSize;
    }

    public BlockHasher hasher() throws VerityException {
        return BlockHasher.forKernelName(algorithm, hashType, salt)
                .orElseThrow(() -> new VerityException("Hash algorithm " + algorithm + " not supported."));
    }

    public HashTree tree() throws VerityException {
        try {
            return new HashTree(hashType, dataBlocks, hashBlockSize, hasher().digestSize(), hashOffsetBlock());
        } catch (IllegalArgumentException | ArithmeticException e) {
            throw new VerityException("Hash area overflow.", e);
        }
    }
}
