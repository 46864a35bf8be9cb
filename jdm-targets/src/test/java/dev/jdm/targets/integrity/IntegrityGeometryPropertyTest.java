package dev.jdm.targets.integrity;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.LongRange;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Layout invariants over random formats (no metadata device): the provided size is the largest
 * multiple of 8 that fits; every data sector lies on the device, after the journal, inside its
 * area's data run and never in a tag run; every tag lies inside its area's tag run; consecutive
 * logical sectors of an area are consecutive on disk.
 */
class IntegrityGeometryPropertyTest {

    @Property(tries = 300)
    void providedSizeIsMaximalAndPlacesAreDisjoint(
            @ForAll @IntRange(min = 1, max = 128) int tagSize,
            @ForAll @IntRange(min = 3, max = 16) int log2Interleave,
            @ForAll @IntRange(min = 0, max = 3) int log2SectorsPerBlock,
            @ForAll @IntRange(min = 1, max = 4) int journalSections,
            @ForAll boolean fixedPadding,
            @ForAll @LongRange(min = 0, max = 64) long start,
            @ForAll @LongRange(min = 2048, max = 1 << 22) long deviceSectors) {
        if (log2Interleave < log2SectorsPerBlock) {
            return;
        }
        long provided = IntegrityGeometry.providedDataSectors(start, tagSize, log2SectorsPerBlock, log2Interleave, false,
                journalSections, false, fixedPadding, 7, deviceSectors, deviceSectors);
        if (provided == 0) {
            return;
        }
        assertEquals(0, provided % 8);
        IntegrityGeometry g = IntegrityGeometry.of(start, tagSize, log2SectorsPerBlock, log2Interleave, false,
                journalSections, false, fixedPadding, 7, provided, deviceSectors);
        assertNotNull(g);
        assertNull(IntegrityGeometry.of(start, tagSize, log2SectorsPerBlock, log2Interleave, false,
                journalSections, false, fixedPadding, 7, provided + 8, deviceSectors), "8 more sectors would fit");

        long interleave = 1L << log2Interleave;
        long areaStride = interleave + g.metadataRun();
        long firstArea = start + g.initialSectors();
        assertTrue(g.metadataRun() * 512 >= (interleave >> log2SectorsPerBlock) * tagSize, "a run holds an area's tags");
        long lastArea = (provided - 1) >> log2Interleave;
        for (long area : new long[]{0, lastArea / 2, lastArea}) {
            long areaStart = firstArea + area * areaStride;
            long dataStart = areaStart + g.metadataRun();
            long areaEnd = Math.min((area + 1) << log2Interleave, provided);
            for (long s : new long[]{area << log2Interleave, areaEnd - 1}) {
                long d = g.dataSector(s);
                assertEquals(dataStart + (s - (area << log2Interleave)), d, "data of sector " + s);
                assertTrue(d < deviceSectors, "data on the device");
                long blockStart = s >> log2SectorsPerBlock << log2SectorsPerBlock;
                long tag = g.tagByte(blockStart, 0);
                assertTrue(tag >= areaStart * 512 && tag + tagSize <= dataStart * 512, "tag of sector " + s + " in its tag run");
            }
        }
    }
}
