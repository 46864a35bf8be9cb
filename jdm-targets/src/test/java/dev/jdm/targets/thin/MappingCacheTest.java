package dev.jdm.targets.thin;

import dev.jdm.targets.thin.metadata.ThinMetadata.Mapping;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

class MappingCacheTest {
    private static final long DEVICE = 3;

    /** Virtual blocks 0, then the next two blocks of device 3 that share its set. */
    private static long[] threeSharingASet() {
        long[] blocks = new long[3];
        int found = 1;
        for (long vb = 1; found < 3; vb++) {
            if (MappingCache.firstSlot(DEVICE, vb) == MappingCache.firstSlot(DEVICE, 0)) {
                blocks[found++] = vb;
            }
        }
        return blocks;
    }

    @Test
    void twoBlocksSharingASetBothStayAndAThirdReplacesTheSecondWay() {
        MappingCache cache = new MappingCache();
        long[] vb = threeSharingASet();
        Mapping m0 = new Mapping(10, 1);
        Mapping m1 = new Mapping(11, 1);
        cache.put(DEVICE, vb[0], m0, cache.generation());
        cache.put(DEVICE, vb[1], m1, cache.generation());
        assertSame(m0, cache.get(DEVICE, vb[0]));
        assertSame(m1, cache.get(DEVICE, vb[1]));
        cache.put(DEVICE, vb[2], null, cache.generation());
        assertSame(m0, cache.get(DEVICE, vb[0]));
        assertNull(cache.get(DEVICE, vb[1]));
        assertSame(MappingCache.UNMAPPED, cache.get(DEVICE, vb[2]));
        assertNull(cache.get(DEVICE + 1, vb[0]), "another device's block");
    }

    @Test
    void aChangedMappingReplacesTheWayHoldingTheBlock() {
        MappingCache cache = new MappingCache();
        long[] vb = threeSharingASet();
        Mapping m1 = new Mapping(11, 1);
        cache.put(DEVICE, vb[0], new Mapping(10, 1), cache.generation());
        cache.put(DEVICE, vb[1], m1, cache.generation());
        // vb[0] sits in the first way; its new mapping must replace it there, not evict vb[1].
        Mapping changed = new Mapping(12, 2);
        cache.put(DEVICE, vb[0], changed, cache.generation());
        assertSame(changed, cache.get(DEVICE, vb[0]));
        assertSame(m1, cache.get(DEVICE, vb[1]));
        cache.put(DEVICE, vb[1], null, cache.generation());
        assertSame(MappingCache.UNMAPPED, cache.get(DEVICE, vb[1]));
        assertSame(changed, cache.get(DEVICE, vb[0]));
    }

    @Test
    void aNewGenerationForgetsEverythingAndOldFillsAreIgnored() {
        MappingCache cache = new MappingCache();
        long before = cache.generation();
        cache.put(DEVICE, 7, new Mapping(10, 1), before);
        cache.newGeneration();
        assertNull(cache.get(DEVICE, 7));
        cache.put(DEVICE, 8, new Mapping(11, 1), before);
        assertNull(cache.get(DEVICE, 8), "a fill that started before the new generation");
        Mapping now = new Mapping(12, 1);
        cache.put(DEVICE, 7, now, cache.generation());
        assertSame(now, cache.get(DEVICE, 7));
        assertEquals(before + 1, cache.generation());
    }
}
