package dev.jdm.core.engine;

import dev.jdm.core.DmException;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Everything a refused command must leave as it was: devices, their tables, status and deps in both
 * slots, and the backing files held open. In the engine's package to read the open backing devices;
 * in jdm-core's test-jar for the target modules' refusal tests.
 */
public record RegistryState(List<DeviceInfo> devices, Map<String, List<String>> tablesAndStatus, int openBackingDevices) {

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
