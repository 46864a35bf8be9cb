package dev.jdm.targets.thin;

import dev.jdm.core.spi.Args;
import dev.jdm.core.spi.TargetException;

import java.util.Locale;

/** The thin-pool table's optional features (the kernel's struct pool_features, less the mode). */
record PoolFeatures(boolean zeroNewBlocks, boolean discardEnabled, boolean discardPassdown, boolean readOnly,
                    boolean errorIfNoSpace) {

    static final PoolFeatures DEFAULT = new PoolFeatures(true, true, true, false, false);

    /**
     * Parses {@code [<#features> <feature>*]} starting at argument {@code first}, as the kernel's
     * parse_pool_features: a count of 0..4 (its argument-group limit, though five features exist), names
     * matched case-insensitively; arguments after the group are ignored as the kernel ignores them.
     */
    static PoolFeatures parse(Args args, int first) throws TargetException {
        if (args.count() <= first) {
            return DEFAULT;
        }
        // dm_read_arg_group gives one error for a bad count and for a count larger than what follows.
        long count = PoolMessages.u64(args.get(first)).orElse(-1);
        if (count < 0 || count > 4 || count > args.count() - first - 1) {
            throw args.error(first, "Invalid number of pool feature arguments");
        }
        boolean zero = true;
        boolean discard = true;
        boolean passdown = true;
        boolean readOnly = false;
        boolean errorIfNoSpace = false;
        for (int i = first + 1; i <= first + count; i++) {
            switch (args.get(i).toLowerCase(Locale.ROOT)) {
                case "skip_block_zeroing" -> zero = false;
                case "ignore_discard" -> discard = false;
                case "no_discard_passdown" -> passdown = false;
                case "read_only" -> readOnly = true;
                case "error_if_no_space" -> errorIfNoSpace = true;
                default -> throw args.error(i, "Unrecognised pool feature requested");
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
