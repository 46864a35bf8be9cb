package dev.jdm.core.engine;

import dev.jdm.core.DmException;
import dev.jdm.core.Errno;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.function.Executable;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * Everything a refused command must leave as it was: devices, their tables, status and deps in both
 * slots, and the backing files held open. In the engine's package to read the open backing devices;
 * in jdm-core's test-jar for the target modules' refusal tests.
 */
public record RegistryState(List<DeviceInfo> devices, Map<String, List<String>> tablesAndStatus, int openBackingDevices) {

    /** A command that must be refused with exactly this errno and message. */
    public record Refusal(String what, Errno errno, String message, Executable command) {
    }

    /** One test per refusal: refused with its errno and message, and the registry left as it was. */
    public static Stream<DynamicTest> refusals(DeviceMapper dm, List<Refusal> refusals) throws DmException {
        RegistryState before = of(dm);
        return refusals.stream().map(r -> DynamicTest.dynamicTest(r.what(), () -> {
            DmException e = assertThrows(DmException.class, r.command());
            assertEquals(r.message(), e.getMessage());
            assertEquals(r.errno(), e.errno());
            assertEquals(before, of(dm));
        }));
    }

    public static RegistryState of(DeviceMapper dm) throws DmException {
        Map<String, List<String>> out = new LinkedHashMap<>();
        for (String name : dm.names()) {
            List<String> lines = new ArrayList<>();
            for (boolean inactive : new boolean[]{false, true}) {
                String slot = inactive ? "inactive " : "live ";
                dm.table(name, inactive).forEach(l -> lines.add(slot + "table " + l.format()));
                dm.status(name, inactive).forEach(l -> lines.add(slot + "status " + l.format()));
                lines.add(slot + "deps " + dm.deps(name, inactive));
            }
            out.put(name, lines);
        }
        return new RegistryState(dm.list(), out, dm.openBackingDevices());
    }
}
