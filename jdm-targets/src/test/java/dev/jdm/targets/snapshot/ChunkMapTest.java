package dev.jdm.targets.snapshot;

import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ChunkMapTest {

    @Test
    void agreesWithAHashMapThroughGrowthAndRemovals() {
        ChunkMap map = new ChunkMap();
        Map<Long, Long> model = new HashMap<>();
        SplittableRandom r = new SplittableRandom(7);
        for (int i = 0; i < 200_000; i++) {
            long key = r.nextLong(5000);
            if (r.nextInt(3) == 0) {
                assertEquals(model.remove(key) != null, map.remove(key), "remove " + key);
            } else {
                long value = r.nextLong(1 << 20);
                Long earlier = model.putIfAbsent(key, value);
                assertEquals(earlier == null ? -1 : earlier, map.putIfAbsent(key, value), "put " + key);
            }
            if (i % 1000 == 0) {
                for (long k = 0; k < 5000; k++) {
                    assertEquals(model.getOrDefault(k, -1L), map.get(k), "get " + k);
                }
                assertEquals(model.size(), map.size());
            }
        }
    }

    @Test
    void chunkZeroIsAKeyLikeAnyOther() {
        ChunkMap map = new ChunkMap();
        assertFalse(map.contains(0));
        assertEquals(-1, map.putIfAbsent(0, 0));
        assertTrue(map.contains(0));
        assertEquals(0, map.putIfAbsent(0, 9));
        assertEquals(0, map.get(0));
    }
}
