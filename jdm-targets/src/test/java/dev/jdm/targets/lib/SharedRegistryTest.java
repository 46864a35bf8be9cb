package dev.jdm.targets.lib;

import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.engine.TargetTypes;
import dev.jdm.core.spi.Args;
import dev.jdm.core.spi.Target;
import dev.jdm.core.spi.TargetContext;
import dev.jdm.core.spi.TargetException;
import dev.jdm.core.spi.TargetType;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

class SharedRegistryTest {

    /** What a test target keeps per engine: a registry of named objects, as thin keeps its pools. */
    static final class Origins {
        final List<String> destroyed = new ArrayList<>();
        final SharedRegistry<String> names = new SharedRegistry<>(destroyed::add);
    }

    /** {@code probe <name>}: a zero target that holds {@code name} in its engine's {@link Origins}. */
    static final class Probe implements TargetType {
        final List<Origins> seen = new ArrayList<>();

        @Override
        public String name() {
            return "probe";
        }

        @Override
        public Version version() {
            return new Version(1, 0, 0);
        }

        @Override
        public Target construct(TargetContext ctx, Args args) throws TargetException {
            Origins origins = ctx.shared(Origins.class, Origins::new);
            seen.add(origins);
            String name = args.get(0);
            String held = origins.names.acquire(name::equals, () -> new String(name));
            Target zero = TargetTypes.discover().find("zero").orElseThrow().construct(ctx, new Args(List.of()));
            return new Target() {
                public void read(long offset, java.nio.ByteBuffer dst) throws IOException {
                    zero.read(offset, dst);
                }

                public void write(long offset, java.nio.ByteBuffer src, boolean fua) throws IOException {
                    zero.write(offset, src, fua);
                }

                public void flush() {
                }

                public void discard(long offset, long length) {
                }

                public void writeZeroes(long offset, long length, boolean mayUnmap) {
                }

                public String table() {
                    return name;
                }

                public void close() {
                    origins.names.release(held);
                }
            };
        }
    }

    @Test
    void eachEngineHasItsOwnSharedObjectsAndTheLastTableLetsTheirEntriesGo() throws Exception {
        Probe probe = new Probe();
        TargetTypes types = TargetTypes.discover();
        types.register(probe);
        try (DeviceMapper one = new DeviceMapper(types, DeviceMapper.Options.DEFAULT);
             DeviceMapper two = new DeviceMapper(types, DeviceMapper.Options.DEFAULT)) {
            one.create("a", null, "0 8 probe origin", false);
            one.create("b", null, "0 8 probe origin", false);
            two.create("a", null, "0 8 probe origin", false);
            Origins ofOne = probe.seen.get(0);
            Origins ofTwo = probe.seen.get(2);
            assertSame(ofOne, probe.seen.get(1), "two tables of one engine share its object");
            assertNotSame(ofOne, ofTwo, "two engines must not share objects");
            String held = ofOne.names.find("origin"::equals);
            assertEquals(2, ofOne.names.users(held));
            assertEquals(1, ofTwo.names.users(ofTwo.names.find("origin"::equals)));

            one.remove("a", false, false);
            assertEquals(1, ofOne.names.users(held));
            assertEquals(List.of(), ofOne.destroyed);
            one.remove("b", false, false);
            assertNull(ofOne.names.find("origin"::equals));
            assertEquals(List.of("origin"), ofOne.destroyed);
            assertEquals(List.of(), ofTwo.destroyed, "the other engine's entry lives on");
        }
    }

    @Test
    void aFailedOpenAddsNothingAndReleasingAStrangerIsRefused() {
        List<String> destroyed = new ArrayList<>();
        SharedRegistry<String> registry = new SharedRegistry<>(destroyed::add);
        assertThrows(TargetException.class, () -> registry.acquire(v -> true, () -> {
            throw new TargetException("cannot open");
        }));
        assertNull(registry.find(v -> true));
        String x = registry.acquire(v -> false, () -> "x");
        assertSame(x, registry.acquire(v -> v.equals("x"), () -> "never"));
        assertEquals(2, registry.users(x));
        assertEquals("released an object the registry does not hold: y",
                assertThrows(IllegalStateException.class, () -> registry.release("y")).getMessage());
        registry.release(x);
        registry.release(x);
        assertEquals(List.of("x"), destroyed);
        assertEquals(0, registry.users(x));
    }
}
