package dev.jdm.targets.lib;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.StampedLock;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PrisonTest {

    @Test
    void aBlockHasOneCellAndNeighboursSpreadOverTheStripes() {
        Prison prison = new Prison(64);
        assertSame(prison.cell(3, 17), prison.cell(3, 17));
        long distinct = java.util.stream.LongStream.range(0, 64).mapToObj(b -> prison.cell(1, b)).distinct().count();
        assertTrue(distinct >= 32, "64 neighbouring blocks fell into only " + distinct + " of 64 stripes");
        assertNotSame(prison.cell(1, 0), prison.cell(1, 1));
        assertEquals("the number of stripes must be a power of two, not 48",
                assertThrows(IllegalArgumentException.class, () -> new Prison(48)).getMessage());
    }

    @Test
    void anExclusiveHolderKeepsSharersOutUntilItLetsGo() throws Exception {
        StampedLock cell = new Prison().cell(0, 9);
        long write = cell.writeLock();
        CompletableFuture<Long> reader = CompletableFuture.supplyAsync(cell::readLock);
        assertThrows(TimeoutException.class, () -> reader.get(200, TimeUnit.MILLISECONDS));
        assertEquals(0, cell.tryWriteLock(), "a second exclusive holder got in");
        cell.unlockWrite(write);
        long read = assertTimeoutPreemptively(Duration.ofSeconds(5), () -> reader.get());
        long second = cell.tryReadLock();
        assertTrue(second != 0, "sharers must not exclude each other");
        assertEquals(0, cell.tryWriteLock(), "an exclusive holder got in beside sharers");
        cell.unlockRead(second);
        cell.unlockRead(read);
    }

    @Test
    void anOptimisticReadFailsValidationOnlyWhenAnExclusiveHolderCameInBetween() {
        StampedLock cell = new Prison().cell(2, 5);
        long quiet = cell.tryOptimisticRead();
        long shared = cell.readLock();
        cell.unlockRead(shared);
        assertTrue(cell.validate(quiet), "a sharer must not invalidate an optimistic read");
        long raced = cell.tryOptimisticRead();
        cell.unlockWrite(cell.writeLock());
        assertFalse(cell.validate(raced), "a read that raced an exclusive holder must be retried");
        long held = cell.writeLock();
        assertEquals(0, cell.tryOptimisticRead(), "no optimistic read while an exclusive holder is in");
        cell.unlockWrite(held);
    }
}
