package dev.jdm.targets.thin.metadata;

import dev.jdm.core.io.FileBlockDevice;
import dev.jdm.pdata.MetadataException;
import dev.jdm.pdata.PdataTools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** A held metadata snapshot keeps the old trees readable (thin_dump -m) while the live ones change. */
class MetadataSnapshotTest {
    @TempDir
    Path dir;

    @Test
    void heldSnapshotDumpsTheOldStateAndReleasesCleanly() throws Exception {
        Path meta = dir.resolve("meta");
        java.nio.file.Files.write(meta, new byte[16 << 20]);
        try (var dev = FileBlockDevice.open(meta, FileBlockDevice.Options.READ_WRITE);
             var md = ThinMetadata.format(dev, 128, 200_000, 128)) {
            Random rnd = new Random(21);
            ThinToolsConformanceTest.randomOperations(md, rnd, 1500);
            md.commit();
            ThinTools.Dump before = ThinView.of(md);

            md.reserveMetadataSnapshot();
            assertNotEquals(0, md.metadataSnapshot());
            MetadataException twice = assertThrows(MetadataException.class, md::reserveMetadataSnapshot);
            assertEquals("Pool metadata snapshot already exists: release this before taking another.", twice.getMessage());
            ThinToolsConformanceTest.randomOperations(md, rnd, 1500);
            md.commit();

            assertEquals(0, ThinTools.check(meta).exit(), ThinTools.check(meta).stderr());
            assertEquals(ThinView.of(md), ThinTools.dump(meta));
            PdataTools.Result held = PdataTools.run("thin_dump", "-m", meta.toString());
            assertEquals(0, held.exit(), held.stderr());
            ThinTools.Dump snapshot = ThinTools.parse(held.stdout());
            assertEquals(before.devices(), snapshot.devices(), "the snapshot shows the state when it was taken");
            ThinView.assertDataRefcounts(md);

            md.releaseMetadataSnapshot();
            md.commit();
            assertEquals(0, md.metadataSnapshot());
            PdataTools.Result check = ThinTools.check(meta);
            assertEquals(0, check.exit(), check.stderr());
            ThinView.assertDataRefcounts(md);
            assertEquals(ThinView.of(md), ThinTools.dump(meta));
        }
    }
}
