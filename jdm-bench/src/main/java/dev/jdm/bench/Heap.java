package dev.jdm.bench;

/** The heap the benchmarks weigh what they hold with. */
final class Heap {
    private Heap() {
    }

    /** Bytes of heap in use after a few collections have had their chance. */
    static long used() throws InterruptedException {
        Runtime rt = Runtime.getRuntime();
        for (int i = 0; i < 3; i++) {
            System.gc();
            Thread.sleep(50);
        }
        return rt.totalMemory() - rt.freeMemory();
    }
}
