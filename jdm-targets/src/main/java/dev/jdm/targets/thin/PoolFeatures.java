package dev.jdm.targets.thin;

import dev.jdm.core.spi.Args;
import dev.jdm.core.spi.TargetException;

/** The thin-pool table's optional features (the kernel's struct pool_features, less the mode). */
record PoolFeatures(boolean zeroNewBlocks, boolean discardEnabled, boolean discardPassdown, boolean readOnly,
                    boolean errorIfNoSpace) {

    static final PoolFeatures DEFAULT = new PoolFeatures(true, true, true, false, false);

    /** The kernel's parse_pool_features limit: four, though five features exist. */
    static final Args.Range GROUP = new Args.Range(0, 4, "Invalid number of pool feature arguments");

    /** Parses the feature words of the table's {@code [<#features> <feature>*]} group, as parse_pool_features. */
    static PoolFeatures parse(Args features) throws TargetException {
        boolean zero = true;
        boolean discard = true;
        boolean passdown = true;
        boolean readOnly = false;
        boolean errorIfNoSpace = false;
        while (features.hasMore()) {
            switch (features.shiftWord("pool feature")) {
                case "skip_block_zeroing" -> zero = false;
                case "ignore_discard" -> discard = false;
                case "no_discard_passdown" -> passdown = false;
                case "read_only" -> readOnly = true;
                case "error_if_no_space" -> errorIfNoSpace = true;
                default -> throw features.error("Unrecognised pool feature requested");
            }
        }
        return new PoolFeatures(zero, discard, passdown, readOnly, errorIfNoSpace);
    }

    PoolFeatures withDiscardPassdown(boolean passdown) {
        return new PoolFeatures(zeroNewBlocks, discardEnabled, passdown, readOnly, errorIfNoSpace);
    }

    /** The table's feature group as the kernel's emit_flags prints it: count, then each feature, each followed by a space. */
    String emit() {
        StringBuilder sb = new StringBuilder();
        int count = 0;
        if (!zeroNewBlocks) {
            sb.append("skip_block_zeroing ");
            count++;
        }
        if (!discardEnabled) {
            sb.append("ignore_discard ");
            count++;
        }
        if (!discardPassdown) {
            sb.append("no_discard_passdown ");
            count++;
        }
        if (readOnly) {
            sb.append("read_only ");
            count++;
        }
        if (errorIfNoSpace) {
            sb.append("error_if_no_space ");
            count++;
        }
        return count + " " + sb;
    }
}
