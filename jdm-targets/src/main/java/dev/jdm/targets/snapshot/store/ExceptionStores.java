package dev.jdm.targets.snapshot.store;

import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.spi.Args;
import dev.jdm.core.spi.TargetException;

import java.util.OptionalLong;

/** Builds the exception store a snapshot table line names (the kernel's {@code dm-exception-store.c}). */
public final class ExceptionStores {
    /** The kernel's INT_MAX >> SECTOR_SHIFT: a chunk's bytes must fit a signed int. */
    static final long MAX_CHUNK_SECTORS = Integer.MAX_VALUE >> 9;

    private ExceptionStores() {
    }

    /**
     * dm_exception_store_create: shifts the store type (P, PO, N, case-insensitive) and the chunk size off the
     * cursor; chunk 0 = "from the persistent header" (persistent only). Errors are the kernel's texts, naming the
     * argument (args.error / the Arg's error).
     */
    public static ExceptionStore create(Args args, BlockDevice origin, BlockDevice cow) throws TargetException {
        if (args.remaining() < 2) {
            throw args.error(args.position(), "Insufficient exception store arguments");
        }
        Args.Arg type = args.next("exception store type");
        Args.Arg chunkArg = args.next("chunk size");
        // Like the kernel, only the first letter picks the type; the rest is the type's options.
        char letter = Character.toUpperCase(type.text().isEmpty() ? '\0' : type.text().charAt(0));
        if (letter != 'P' && letter != 'N') {
            throw type.error("Exception store type is not P or N");
        }
        OptionalLong parsed = Args.Rule.KSTRTOUINT.parse(chunkArg.text());
        if (parsed.isEmpty()) {
            throw chunkArg.error("Invalid chunk size");
        }
        int chunkSectors = (int) parsed.getAsLong();
        if (chunkSectors != 0) {
            String why = chunkSizeProblem(parsed.getAsLong(), origin, cow);
            if (why != null) {
                throw chunkArg.error(why);
            }
        }
        String options = type.text().substring(1);
        if (letter == 'N') {
            return new TransientStore(cow, chunkSectors);
        }
        boolean overflow = false;
        if (!options.isEmpty()) {
            if (Character.toUpperCase(options.charAt(0)) != 'O') {
                throw type.error("Exception store type constructor failed");
            }
            overflow = true;
        }
        return new PersistentStore(origin, cow, chunkSectors, overflow);
    }

    /**
     * dm_exception_store_set_chunk_size's checks, for the table's and the header's chunk size: null when the size
     * is usable, else the kernel's error text.
     */
    static String chunkSizeProblem(long chunkSectors, BlockDevice origin, BlockDevice cow) {
        if (chunkSectors <= 0 || Long.bitCount(chunkSectors) != 1) {
            return "Chunk size is not a power of 2";
        }
        if (chunkSectors % (cow.logicalBlockSize() >> 9) != 0 || chunkSectors % (origin.logicalBlockSize() >> 9) != 0) {
            return "Chunk size is not a multiple of device blocksize";
        }
        if (chunkSectors > MAX_CHUNK_SECTORS) {
            return "Chunk size is too high";
        }
        return null;
    }
}
