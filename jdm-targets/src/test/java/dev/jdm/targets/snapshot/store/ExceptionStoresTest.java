package dev.jdm.targets.snapshot.store;

import dev.jdm.core.spi.Args;
import dev.jdm.core.spi.TargetException;
import dev.jdm.core.testing.MemoryDevice;
import org.junit.jupiter.api.Test;

import java.util.List;

import static dev.jdm.targets.snapshot.store.StoreDevices.storeArgs;
import static org.junit.jupiter.api.Assertions.*;

class ExceptionStoresTest {
    final MemoryDevice origin = new MemoryDevice(1 << 20);
    final MemoryDevice cow = new MemoryDevice(1 << 20);

    private String refusal(String type, String chunk) {
        return assertThrows(TargetException.class, () -> ExceptionStores.create(storeArgs(type, chunk), origin, cow)).getMessage();
    }

    @Test
    void typeLetterIsCaseInsensitiveAndTheTableShowsItCanonically() throws Exception {
        Args args = storeArgs("p", "8");
        ExceptionStore p = ExceptionStores.create(args, origin, cow);
        assertInstanceOf(PersistentStore.class, p);
        assertEquals("P 8", p.tableArgs());
        assertFalse(((PersistentStore) p).overflowSupported());
        assertEquals(4, args.position(), "both words shifted");

        ExceptionStore po = ExceptionStores.create(storeArgs("Po", "16"), origin, cow);
        assertEquals("PO 16", po.tableArgs());
        assertTrue(((PersistentStore) po).overflowSupported());

        ExceptionStore n = ExceptionStores.create(storeArgs("n", "32"), origin, cow);
        assertInstanceOf(TransientStore.class, n);
        assertEquals("N 32", n.tableArgs());
        assertEquals(32, n.chunkSectors());
        // The kernel's transient constructor ignores what follows the letter.
        assertEquals("N 8", ExceptionStores.create(storeArgs("NO", "8"), origin, cow).tableArgs());
    }

    @Test
    void kernelTextsNameTheArgument() {
        assertEquals("argument 3 (\"X\"): Exception store type is not P or N", refusal("X", "8"));
        assertEquals("argument 3 (\"\"): Exception store type is not P or N", refusal("", "8"));
        assertEquals("argument 3 (\"PX\"): Exception store type constructor failed", refusal("PX", "8"));
        assertEquals("argument 4 (\"x\"): Invalid chunk size", refusal("P", "x"));
        assertEquals("argument 4 (\"-8\"): Invalid chunk size", refusal("P", "-8"));
        assertEquals("argument 4 (\"4294967296\"): Invalid chunk size", refusal("P", "4294967296"));
        assertEquals("argument 4 (\"12\"): Chunk size is not a power of 2", refusal("P", "12"));
        assertEquals("argument 4 (\"12\"): Chunk size is not a power of 2", refusal("N", "12"));
        assertEquals("argument 4 (\"4194304\"): Chunk size is too high", refusal("P", "4194304"));
        assertEquals("argument 4 (\"2147483648\"): Chunk size is too high", refusal("P", "2147483648"));
        // kstrtouint: a leading '+' and one trailing newline are fine.
        assertDoesNotThrow(() -> ExceptionStores.create(storeArgs("P", "+2097152\n"), origin, cow));
    }

    @Test
    void chunkMustBeAMultipleOfBothDevicesBlockSize() throws Exception {
        var bigBlockCow = new StoreDevices.Wrapped(cow, 4096, 0);
        var bigBlockOrigin = new StoreDevices.Wrapped(origin, 4096, 0);
        String want = "argument 4 (\"4\"): Chunk size is not a multiple of device blocksize";
        assertEquals(want, assertThrows(TargetException.class,
                () -> ExceptionStores.create(storeArgs("P", "4"), origin, bigBlockCow)).getMessage());
        assertEquals(want, assertThrows(TargetException.class,
                () -> ExceptionStores.create(storeArgs("P", "4"), bigBlockOrigin, cow)).getMessage());
        assertEquals("P 8", ExceptionStores.create(storeArgs("P", "8"), bigBlockOrigin, bigBlockCow).tableArgs());
    }

    @Test
    void fewerThanTwoWordsAreRefused() {
        Args args = new Args(List.of("origin", "cow", "P"));
        args.skip(2);
        assertEquals("argument 3 (\"P\"): Insufficient exception store arguments",
                assertThrows(TargetException.class, () -> ExceptionStores.create(args, origin, cow)).getMessage());
    }

    @Test
    void chunkZeroIsForThePersistentHeaderOnly() throws Exception {
        ExceptionStore n = ExceptionStores.create(storeArgs("N", "0"), origin, cow);
        assertEquals("Chunk size not set", assertThrows(StoreException.class, () -> n.load((o, c) -> { })).getMessage());
        ExceptionStore p = ExceptionStores.create(storeArgs("P", "0"), origin, cow);
        assertEquals(ExceptionStore.LoadResult.NEW, p.load((o, c) -> { }));
        assertEquals("P 32", p.tableArgs(), "the kernel's default chunk, 16 KiB");
    }
}
