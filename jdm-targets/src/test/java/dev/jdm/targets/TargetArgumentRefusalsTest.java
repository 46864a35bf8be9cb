package dev.jdm.targets;

import dev.jdm.core.DmException;
import dev.jdm.core.Errno;
import dev.jdm.core.engine.DeviceMapper;
import dev.jdm.core.engine.RegistryState;
import dev.jdm.core.engine.RegistryState.Refusal;
import dev.jdm.core.testing.TestFiles;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Refused arguments of linear, striped and zero: each fails with its exact message and errno and
 * leaves the registry exactly as it was. The engine's own refusals are in jdm-core's RefusedCommandsTest.
 */
class TargetArgumentRefusalsTest {
    @TempDir
    Path dir;

    private DeviceMapper dm;
    private Path a;
    private Path b;
    private Path c;
    private Path missing;

    @BeforeEach
    void registry() throws Exception {
        a = TestFiles.sparse(dir, "a.img", 1 << 20);
        b = TestFiles.sparse(dir, "b.img", 1 << 20);
        c = TestFiles.sparse(dir, "c.img", 1 << 20);
        missing = dir.resolve("missing.img");
        dm = DeviceMapper.create();
        dm.create("base", "uuid-base", "0 1024 linear " + a + " 0\n1024 1024 striped 2 8 " + a + " 1024 " + b + " 0", false);
        dm.create("top", null, "0 2048 linear /dev/mapper/base 0", false);
    }

    @AfterEach
    void closeRegistry() {
        dm.close();
    }

    private List<Refusal> cases() {
        String line = "table line 1: ";
        return List.of(
                new Refusal("linear with one argument", Errno.EINVAL, line + "linear: expected 2 arguments (<dev> <offset>), got 1",
                        () -> dm.load("base", "0 100 linear " + a, false)),
                new Refusal("linear with three arguments", Errno.EINVAL, line + "linear: expected 2 arguments (<dev> <offset>), got 3",
                        () -> dm.load("base", "0 100 linear " + a + " 0 0", false)),
                new Refusal("linear negative offset", Errno.EINVAL, line + "linear: argument 2 (\"-1\"): invalid device sector",
                        () -> dm.load("base", "0 100 linear " + a + " -1", false)),
                new Refusal("striped without chunk size", Errno.EINVAL,
                        line + "striped: expected at least 2 arguments (<#stripes> <chunk size> [<dev> <offset>]...), got 1",
                        () -> dm.load("base", "0 100 striped 2", false)),
                new Refusal("striped with a missing pair", Errno.EINVAL, line + "striped: expected 6 arguments for 2 stripes "
                        + "(<#stripes> <chunk size> and a <dev> <offset> pair per stripe), got 4",
                        () -> dm.load("base", "0 128 striped 2 8 " + a + " 0", false)),
                new Refusal("striped length not divisible by stripes", Errno.EINVAL,
                        line + "striped: target length 129 is not divisible by the number of stripes 2",
                        () -> dm.load("base", "0 129 striped 2 8 " + a + " 0 " + b + " 0", false)),
                new Refusal("striped stripe length not divisible by chunk", Errno.EINVAL,
                        line + "striped: target length per stripe 50 is not divisible by the chunk size 8",
                        () -> dm.load("base", "0 100 striped 2 8 " + a + " 0 " + b + " 0", false)),
                new Refusal("striped chunk 0", Errno.EINVAL, line + "striped: argument 2 (\"0\"): chunk size out of range (1..4294967295)",
                        () -> dm.load("base", "0 128 striped 2 0 " + a + " 0 " + b + " 0", false)),
                new Refusal("striped 0 stripes", Errno.EINVAL, line + "striped: argument 1 (\"0\"): number of stripes out of range (1..2147483647)",
                        () -> dm.load("base", "0 128 striped 0 8", false)),
                new Refusal("striped stripe offset not a number", Errno.EINVAL, line + "striped: argument 6 (\"1k\"): invalid device sector of stripe 1",
                        () -> dm.load("base", "0 128 striped 2 8 " + c + " 0 " + b + " 1k", false)),
                new Refusal("striped second device missing", Errno.ENXIO,
                        line + "striped: argument 5 (\"" + missing + "\"): no such file or device: " + missing,
                        () -> dm.load("base", "0 128 striped 2 8 " + c + " 0 " + missing + " 0", false)),
                new Refusal("striped stripe too small", Errno.EINVAL,
                        line + "striped: argument 5 (\"" + b + "\"): device too small for target: it has 2048 sectors, the target needs sectors 2000 to 2064",
                        () -> dm.load("base", "0 128 striped 2 8 " + c + " 0 " + b + " 2000", false)),
                new Refusal("zero with an argument", Errno.EINVAL, line + "zero: No arguments required",
                        () -> dm.load("base", "0 100 zero 1", false)));
    }

    @TestFactory
    Stream<DynamicTest> everyRefusalHasItsMessageAndErrnoAndChangesNothing() throws DmException {
        RegistryState before = RegistryState.of(dm);
        assertEquals(2, before.openBackingDevices());
        return RegistryState.refusals(dm, cases());
    }
}
