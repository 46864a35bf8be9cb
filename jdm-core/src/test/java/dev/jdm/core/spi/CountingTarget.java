package dev.jdm.core.spi;

import java.nio.ByteBuffer;
import java.util.concurrent.atomic.LongAdder;

/**
 * {@code counting <dev> <offset>}: linear that counts what passes, the example of a remap-with-a-twist
 * target on {@link FilterTarget}. Status: {@code <reads> <writes> <flushes> <discards> <write_zeroes>}.
 */
public final class CountingTarget extends FilterTarget {

    public static final class Type implements TargetType {
        @Override
        public String name() {
            return "counting";
        }

        @Override
        public Version version() {
            return new Version(1, 0, 0);
        }

        @Override
        public Target construct(TargetContext ctx, Args args) throws TargetException {
            args.requireCount(2, "<dev> <offset>");
            Args.Arg dev = args.next("device");
            long start = args.shiftSectors("device sector");
            return new CountingTarget(new Route(ctx.device(dev, start, ctx.length()), start));
        }
    }

    private final LongAdder reads = new LongAdder();
    private final LongAdder writes = new LongAdder();
    private final LongAdder[] dataless = {new LongAdder(), new LongAdder(), new LongAdder()};

    private CountingTarget(Route route) {
        super(route);
    }

    @Override
    protected boolean beforeRead(long offset, int length) {
        reads.increment();
        return false;
    }

    /** Every read is counted, so none may bypass the hook by going out zero-copy. */
    @Override
    protected boolean readsPassThrough(long offset, long length) {
        return false;
    }

    @Override
    protected ByteBuffer beforeWrite(long offset, ByteBuffer piece, boolean fua) {
        writes.increment();
        return piece;
    }

    @Override
    protected boolean beforeDataless(Dataless op, long offset, long length) {
        dataless[op.ordinal()].increment();
        return true;
    }

    @Override
    public String status() {
        return reads + " " + writes + " " + dataless[0] + " " + dataless[1] + " " + dataless[2];
    }

    @Override
    public String table() {
        return route().table();
    }
}
