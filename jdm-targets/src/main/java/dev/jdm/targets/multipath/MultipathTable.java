package dev.jdm.targets.multipath;

import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.spi.Args;
import dev.jdm.core.spi.TargetContext;
import dev.jdm.core.spi.TargetException;

import java.util.ArrayList;
import java.util.List;
import java.util.function.LongSupplier;
import java.util.stream.Collectors;

/**
 * The table line of a multipath target, read as the kernel's multipath_ctr reads it:
 * {@code <#feat> [feat...] <#hw> [hw_name [hw_args...]] <#pgs> <initial_pg>} then per group
 * {@code <selector> <#sel_args> [sel_args...] <#paths> <#path_args>} and per path {@code <dev> [path_args...]}.
 */
record MultipathTable(Features features, List<PriorityGroup> groups, int initialGroup) {
    private static final Args.Range FEATURE_COUNT = new Args.Range(0, 8, "invalid number of feature args");
    private static final Args.Range PG_INIT_RETRIES = new Args.Range(1, 50, "pg_init_retries must be between 1 and 50");
    private static final Args.Range PG_INIT_DELAY = new Args.Range(0, 60000, "pg_init_delay_msecs must be between 0 and 60000");
    private static final Args.Range HW_HANDLER_COUNT = new Args.Range(0, 1024, "invalid number of hardware handler args");
    private static final Args.Range GROUP_COUNT = new Args.Range(0, 1024, "invalid number of priority groups");
    private static final Args.Range INITIAL_GROUP = new Args.Range(0, 1024, "invalid initial priority group number");
    private static final Args.Range SELECTOR_ARG_COUNT = new Args.Range(0, 1024, "invalid number of path selector args");
    private static final Args.Range PATH_COUNT = new Args.Range(1, 1024, "invalid number of paths");
    private static final Args.Range PATH_ARG_COUNT = new Args.Range(0, 1024, "invalid number of selector args");

    /** pg_init_delay_msecs when the table gives none (the kernel's DM_PG_INIT_DELAY_DEFAULT, (unsigned) -1). */
    static final long DEFAULT_PG_INIT_DELAY = 0xffff_ffffL;

    /**
     * The features; pg_init_retries and pg_init_delay_msecs only matter to hardware handlers, which jdm has
     * none of, so they are kept for the table line only. Bio mode implies retain_attached_hw_handler, as in
     * the kernel's alloc_multipath_stage2.
     */
    record Features(boolean queueIfNoPath, long pgInitRetries, long pgInitDelayMsecs, boolean retainAttachedHwHandler,
                    boolean bioMode) {

        /** The feature words as the kernel's table line prints them: count first, each word with a space after it. */
        String table(boolean queueIfNoPathNow) {
            int count = (queueIfNoPathNow ? 1 : 0) + (pgInitRetries > 0 ? 2 : 0)
                    + (pgInitDelayMsecs != DEFAULT_PG_INIT_DELAY ? 2 : 0) + (retainAttachedHwHandler ? 1 : 0)
                    + (bioMode ? 2 : 0);
            StringBuilder sb = new StringBuilder().append(count).append(' ');
            if (queueIfNoPathNow) {
                sb.append("queue_if_no_path ");
            }
            if (pgInitRetries > 0) {
                sb.append("pg_init_retries ").append(pgInitRetries).append(' ');
            }
            if (pgInitDelayMsecs != DEFAULT_PG_INIT_DELAY) {
                sb.append("pg_init_delay_msecs ").append(pgInitDelayMsecs).append(' ');
            }
            if (retainAttachedHwHandler) {
                sb.append("retain_attached_hw_handler ");
            }
            if (bioMode) {
                sb.append("queue_mode bio ");
            }
            return sb.toString();
        }
    }

    static MultipathTable parse(TargetContext ctx, Args args, LongSupplier clock) throws TargetException {
        Features features = features(args.group(FEATURE_COUNT));
        hardwareHandler(args.group(HW_HANDLER_COUNT), features.bioMode);
        long groupCount = args.read(GROUP_COUNT);
        int initialIndex = args.position();
        long initialGroup = args.read(INITIAL_GROUP);
        if ((groupCount == 0) != (initialGroup == 0)) {
            throw args.error(initialIndex, "invalid initial priority group: "
                    + (groupCount == 0 ? "0 when there are no groups" : "groups are numbered from 1"));
        }
        List<PriorityGroup> groups = new ArrayList<>();
        while (args.hasMore()) {
            groups.add(group(ctx, args, groups.size() + 1, clock));
        }
        if (groups.size() != groupCount) {
            throw new TargetException("priority group count mismatch: the table says " + groupCount + " and gives "
                    + groups.size());
        }
        // an initial group past the last is accepted and means none, as in the kernel
        return new MultipathTable(features, List.copyOf(groups), (int) initialGroup);
    }

    /** The kernel's parse_features: words matched case-insensitively; a valued word last in the group is unknown. */
    private static Features features(Args words) throws TargetException {
        boolean queueIfNoPath = false;
        boolean retain = false;
        boolean bio = false;
        long retries = 0;
        long delay = DEFAULT_PG_INIT_DELAY;
        while (words.hasMore()) {
            String word = words.shiftWord("feature");
            boolean valued = words.hasMore();
            if (word.equals("queue_if_no_path")) {
                queueIfNoPath = true;
            } else if (word.equals("retain_attached_hw_handler")) {
                retain = true;
            } else if (word.equals("pg_init_retries") && valued) {
                retries = words.read(PG_INIT_RETRIES);
            } else if (word.equals("pg_init_delay_msecs") && valued) {
                delay = words.read(PG_INIT_DELAY);
            } else if (word.equals("queue_mode") && valued) {
                String mode = words.shiftWord("queue mode");
                if (mode.equals("bio")) {
                    bio = true;
                } else if (mode.equals("rq") || mode.equals("mq")) {
                    bio = false;
                } else {
                    throw words.error("Unknown 'queue_mode' requested: bio, rq or mq");
                }
            } else {
                throw words.error("Unrecognised multipath feature request: known are queue_if_no_path, "
                        + "retain_attached_hw_handler, pg_init_retries <n>, pg_init_delay_msecs <ms>, queue_mode <mode>");
            }
        }
        return new Features(queueIfNoPath, retries, delay, retain || bio, bio);
    }

    /**
     * Hardware handlers drive SCSI controllers (ALUA, EMC, ...). The kernel ignores them in bio mode; otherwise
     * it attaches the handler to each path, which fails for anything that is not SCSI, as no jdm path is.
     */
    private static void hardwareHandler(Args handler, boolean bioMode) throws TargetException {
        if (handler.hasMore() && !bioMode) {
            Args.Arg name = handler.next("hardware handler");
            throw name.error("error attaching hardware handler: hardware handlers are SCSI-specific and jdm paths"
                    + " are not SCSI devices (give 0)");
        }
    }

    /** The kernel's parse_priority_group. */
    private static PriorityGroup group(TargetContext ctx, Args args, int number, LongSupplier clock) throws TargetException {
        if (args.remaining() < 2) {
            throw args.error(args.position(), "not enough priority group arguments: <selector> <#sel_args> ..."
                    + " <#paths> <#path_args> <dev>...");
        }
        Args.Arg selectorName = args.next("path selector");
        PathSelectorType type = PathSelectors.find(selectorName.text()).orElseThrow(() -> selectorName.error(
                "unknown path selector type: known are " + PathSelectors.all().stream().map(PathSelectorType::name)
                        .collect(Collectors.joining(", "))));
        Args selectorArgs = args.group(SELECTOR_ARG_COUNT);
        PathSelector selector = type.create(selectorArgs, clock); // as in the kernel, most ignore their arguments
        PriorityGroup group = new PriorityGroup(number, type, selector);
        long pathCount = args.read(PATH_COUNT);
        int pathArgCount = (int) args.read(PATH_ARG_COUNT);
        for (int i = 0; i < pathCount; i++) {
            if (args.remaining() < 1 + pathArgCount) {
                throw args.error(args.position(), "not enough path parameters: each path is a device and "
                        + pathArgCount + " selector argument" + (pathArgCount == 1 ? "" : "s"));
            }
            Args pathArgs = args.take(1 + pathArgCount);
            Args.Arg device = pathArgs.next("device");
            BlockDevice dev;
            try {
                dev = ctx.device(device, 0, ctx.length());
            } catch (TargetException e) {
                throw new TargetException(e.errno(), "error getting device: " + e.getMessage(), e);
            }
            selector.addPath(pathArgs);
            group.paths.add(new PriorityGroup.Path(group, i, dev, device.text()));
        }
        return group;
    }
}
