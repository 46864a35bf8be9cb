package dev.jdm.formats.luks;

import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * What {@code jdm luks open} may be told besides the passphrase.
 *
 * @param keySlot  --key-slot: only try this slot; -1 = all, in priority order
 * @param features dm-crypt optional features in cryptsetup's option names: allow-discards,
 *                 same-cpu-crypt, submit-from-crypt-cpus, no-read-workqueue, no-write-workqueue
 *                 (LUKS2 persistent flags in the header are added to these)
 */
public record OpenOptions(int keySlot, Set<String> features) {

    /** The features, in the order cryptsetup puts them in the table, with their dm-crypt names. */
    static final List<String> FEATURE_ORDER = List.of("allow-discards", "same-cpu-crypt", "submit-from-crypt-cpus",
            "no-read-workqueue", "no-write-workqueue");

    public OpenOptions {
        features = Set.copyOf(features);
        for (String feature : features) {
            if (!FEATURE_ORDER.contains(feature)) {
                throw new IllegalArgumentException("Unknown activation flag " + feature + ".");
            }
        }
    }

    public static OpenOptions defaults() {
        return new OpenOptions(-1, Set.of());
    }

    public OpenOptions withKeySlot(int slot) {
        return new OpenOptions(slot, features);
    }

    public OpenOptions withFeature(String feature) {
        Set<String> more = new LinkedHashSet<>(features);
        more.add(feature);
        return new OpenOptions(keySlot, more);
    }
}
