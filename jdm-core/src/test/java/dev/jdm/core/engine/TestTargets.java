package dev.jdm.core.engine;

import dev.jdm.core.BlockIoException;
import dev.jdm.core.DmException;
import dev.jdm.core.Errno;
import dev.jdm.core.io.BlockDevice;
import dev.jdm.core.spi.Args;
import dev.jdm.core.spi.RemapTarget;
import dev.jdm.core.spi.Target;
import dev.jdm.core.spi.TargetContext;
import dev.jdm.core.spi.TargetException;
import dev.jdm.core.spi.TargetType;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Set;

/**
 * The targets engine tests run over, so that they test the engine and not the real targets:
 * {@code remap <dev> <offset>} (a remap onto another device), {@code zero}, {@code error} (the
 * engine loads it to wipe a table), and {@code hooks <label>}, which writes each hook it gets to a
 * log. Registered by hand, not through ServiceLoader: jdm-core's test-jar must not bring them to
 * the other modules' tests.
 */
final class TestTargets {
    private TestTargets() {
    }

    /** An engine with the test types and {@code extra}. */
    static DeviceMapper engine(TargetType... extra) {
        TargetTypes types = new TargetTypes();
        types.register(type("remap", (ctx, args) -> {
            if (args.count() != 2) {
                throw new TargetException("expected <dev> <offset>");
            }
            long start = Long.parseLong(args.get(1));
            BlockDevice device = ctx.device(args, 0, start, ctx.length());
            return new RemapTarget() {
                @Override
                protected Remap map(long offset, long length) {
                    return new Remap(device, (start << 9) + offset, length);
                }

                @Override
                public String table() {
                    return device.id() + " " + start;
                }

                @Override
                public List<BlockDevice> devices() {
                    return List.of(device);
                }
            };
        }));
        types.register(type("zero", (ctx, args) -> new Fixed(false)));
        // As the kernel's error: it may replace any table, an immutable one too (the engine's wipe relies on that).
        types.register(type("error", Set.of(TargetType.Feature.WILDCARD), (ctx, args) -> new Fixed(true)));
        for (TargetType t : extra) {
            types.register(t);
        }
        return new DeviceMapper(types, DeviceMapper.Options.DEFAULT);
    }

    @FunctionalInterface
    interface Constructor {
        Target construct(TargetContext ctx, Args args) throws TargetException;
    }

    static TargetType type(String name, Constructor constructor) {
        return type(name, Set.of(), constructor);
    }

    static TargetType type(String name, Set<TargetType.Feature> features, Constructor constructor) {
        return new TargetType() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public Version version() {
                return new Version(0, 0, 1);
            }

            @Override
            public Set<Feature> features() {
                return features;
            }

            @Override
            public Target construct(TargetContext context, Args args) throws TargetException {
                return constructor.construct(context, args);
            }
        };
    }

    /** {@code hooks <label>}: logs "label hook" for each hook; label {@code refuse} refuses preresume. */
    static TargetType hooks(List<String> log) {
        return type("hooks", (ctx, args) -> {
            String label = args.get(0);
            log.add(label + " ctr");
            return new Fixed(false) {
                @Override
                public void presuspend(boolean noflush) {
                    log.add(label + " presuspend" + (noflush ? " noflush" : ""));
                }

                @Override
                public void postsuspend() {
                    log.add(label + " postsuspend");
                }

                @Override
                public void preresume() throws DmException {
                    log.add(label + " preresume");
                    if (label.equals("refuse")) {
                        throw new DmException(Errno.EAGAIN, "refuse: not now");
                    }
                }

                @Override
                public void resume() {
                    log.add(label + " resume");
                }

                @Override
                public void close() {
                    log.add(label + " dtr");
                }
            };
        });
    }

    /** Reads zeroes and drops writes, or fails every I/O. */
    static class Fixed implements Target {
        private final boolean fail;

        Fixed(boolean fail) {
            this.fail = fail;
        }

        private void check() throws BlockIoException {
            if (fail) {
                throw new BlockIoException(Errno.EIO, "error target");
            }
        }

        @Override
        public void read(long offset, ByteBuffer dst) throws IOException {
            check();
            while (dst.hasRemaining()) {
                dst.put((byte) 0);
            }
        }

        @Override
        public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
            check();
            src.position(src.limit());
        }

        @Override
        public void flush() throws BlockIoException {
            check();
        }

        @Override
        public void discard(long offset, long length) throws BlockIoException {
            check();
        }

        @Override
        public void writeZeroes(long offset, long length, boolean mayUnmap) throws BlockIoException {
            check();
        }

        @Override
        public String table() {
            return "";
        }
    }
}
