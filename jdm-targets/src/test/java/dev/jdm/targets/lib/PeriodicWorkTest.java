package dev.jdm.targets.lib;

import org.junit.jupiter.api.Test;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PeriodicWorkTest {

    @Test
    void startedWorkRunsEveryPeriodUntilStopped() throws Exception {
        AtomicInteger runs = new AtomicInteger();
        CountDownLatch three = new CountDownLatch(3);
        try (PeriodicWork work = new PeriodicWork("test", 10, () -> {
            runs.incrementAndGet();
            three.countDown();
        })) {
            work.start();
            work.start(); // once started, starting again adds no second timer
            assertTrue(three.await(5, TimeUnit.SECONDS), "three periods passed without three runs");
            work.stop();
            Thread.sleep(50); // a run that was starting as stop came may still end
            int stopped = runs.get();
            Thread.sleep(100);
            assertEquals(stopped, runs.get(), "the work ran after stop");
        }
    }

    @Test
    void scheduledWorkRunsOnceAPeriodLaterHoweverOftenItIsAskedFor() throws Exception {
        AtomicInteger runs = new AtomicInteger();
        try (PeriodicWork work = new PeriodicWork("test", 100, runs::incrementAndGet)) {
            long asked = System.nanoTime();
            for (int i = 0; i < 5; i++) {
                work.schedule();
            }
            while (runs.get() == 0 && System.nanoTime() - asked < TimeUnit.SECONDS.toNanos(5)) {
                Thread.sleep(5);
            }
            assertTrue(System.nanoTime() - asked >= TimeUnit.MILLISECONDS.toNanos(100), "ran before its period");
            Thread.sleep(250);
            assertEquals(1, runs.get(), "five requests inside one period make one run");
        }
    }

    @Test
    void runNowBringsAPendingRunForwardAndStopCancelsOne() throws Exception {
        CountDownLatch ran = new CountDownLatch(1);
        AtomicInteger runs = new AtomicInteger();
        try (PeriodicWork work = new PeriodicWork("test", 60_000, () -> {
            runs.incrementAndGet();
            ran.countDown();
        })) {
            work.schedule();
            work.runNow();
            assertTrue(ran.await(5, TimeUnit.SECONDS), "runNow did not run the work");
            work.schedule();
            work.stop();
            work.runNow();
            work.stop(); // a run asked for and stopped before it starts does not happen
            Thread.sleep(100);
            assertTrue(runs.get() <= 2, "ran " + runs.get() + " times");
        }
    }

    @Test
    void closeWaitsForTheRunInProgressAndNothingRunsAfterIt() throws Exception {
        CountDownLatch started = new CountDownLatch(1);
        AtomicInteger finished = new AtomicInteger();
        PeriodicWork work = new PeriodicWork("test", 10, () -> {
            started.countDown();
            try {
                Thread.sleep(200);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            finished.incrementAndGet();
        });
        work.runNow();
        assertTrue(started.await(5, TimeUnit.SECONDS));
        work.close();
        assertEquals(1, finished.get(), "close returned while the work still ran");
        work.start();
        work.schedule();
        work.runNow();
        Thread.sleep(100);
        assertEquals(1, finished.get(), "the work ran after close");
        assertEquals("test: periodic work needs a positive period", assertThrows(IllegalStateException.class,
                () -> new PeriodicWork("test", 0, () -> { }).start()).getMessage());
    }
}
