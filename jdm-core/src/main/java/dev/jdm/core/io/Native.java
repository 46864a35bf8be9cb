package dev.jdm.core.io;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

/**
 * The few Linux calls the JDK does not expose, made through FFM: open (for O_EXCL claims),
 * fallocate (hole punching, zero ranges), lseek (SEEK_DATA/SEEK_HOLE), cachestat and block-device ioctls.
 * Each call returns the raw result; a negative value is {@code -errno}.
 */
final class Native {
    static final int O_RDONLY = 0;
    static final int O_RDWR = 2;
    static final int O_EXCL = 0x80;
    static final int O_CLOEXEC = 0x80000;

    static final int FALLOC_FL_KEEP_SIZE = 0x01;
    static final int FALLOC_FL_PUNCH_HOLE = 0x02;
    static final int FALLOC_FL_ZERO_RANGE = 0x10;

    static final int SEEK_DATA = 3;
    static final int SEEK_HOLE = 4;

    static final long BLKSSZGET = 0x1268L;
    static final long BLKGETSIZE64 = 0x80081272L;

    /** The cachestat system call (Linux 6.5), the same number on every architecture. */
    static final long SYS_CACHESTAT = 451;

    static final int ENXIO = 6;
    static final int ENOSYS = 38;
    static final int EOPNOTSUPP = 95;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CALL_STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CALL_STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final Linker.Option CAPTURE_ERRNO = Linker.Option.captureCallState("errno");

    private static final MethodHandle OPEN = downcall("open",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT),
            Linker.Option.firstVariadicArg(2));
    private static final MethodHandle CLOSE = downcall("close",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    private static final MethodHandle FALLOCATE = downcall("fallocate",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
                    ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG));
    private static final MethodHandle LSEEK = downcall("lseek",
            FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
    private static final MethodHandle SYSCALL4 = downcall("syscall",
            FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.ADDRESS,
                    ValueLayout.ADDRESS, ValueLayout.JAVA_LONG),
            Linker.Option.firstVariadicArg(1));
    private static final MethodHandle IOCTL = downcall("ioctl",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.ADDRESS),
            Linker.Option.firstVariadicArg(2));

    private Native() {
    }

    private static MethodHandle downcall(String name, FunctionDescriptor fd, Linker.Option... extra) {
        Linker.Option[] options = new Linker.Option[extra.length + 1];
        options[0] = CAPTURE_ERRNO;
        System.arraycopy(extra, 0, options, 1, extra.length);
        MemorySegment symbol = LINKER.defaultLookup().find(name)
                .orElseThrow(() -> new UnsatisfiedLinkError("libc has no " + name));
        return LINKER.downcallHandle(symbol, fd, options);
    }

    private static int errno(MemorySegment state) {
        return (int) ERRNO.get(state, 0L);
    }

    /** One libc call: gets a confined arena and the errno capture segment, returns the raw result. */
    @FunctionalInterface
    private interface Call {
        long invoke(Arena arena, MemorySegment callState) throws Throwable;
    }

    /** Runs a call; a negative result becomes {@code -errno}. */
    private static long call(String name, Call call) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            long rc = call.invoke(arena, state);
            return rc >= 0 ? rc : -errno(state);
        } catch (Throwable t) {
            throw new IllegalStateException(name + " could not be called", t);
        }
    }

    static int open(String path, int flags) {
        return (int) call("open", (a, st) -> (int) OPEN.invokeExact(st, a.allocateFrom(path), flags | O_CLOEXEC, 0));
    }

    static void close(int fd) {
        call("close", (a, st) -> (int) CLOSE.invokeExact(st, fd));
    }

    static int fallocate(int fd, int mode, long offset, long length) {
        return (int) call("fallocate", (a, st) -> (int) FALLOCATE.invokeExact(st, fd, mode, offset, length));
    }

    static long lseek(int fd, long offset, int whence) {
        return call("lseek", (a, st) -> (long) LSEEK.invokeExact(st, fd, offset, whence));
    }

    /**
     * cachestat: how many of the pages covering {@code length} bytes at {@code offset} are in the page
     * cache, or -errno (-ENOSYS before Linux 6.5).
     */
    static long cachedPages(int fd, long offset, long length) {
        return call("cachestat", (a, st) -> {
            MemorySegment range = a.allocate(ValueLayout.JAVA_LONG, 2);
            range.setAtIndex(ValueLayout.JAVA_LONG, 0, offset);
            range.setAtIndex(ValueLayout.JAVA_LONG, 1, length);
            // struct cachestat: nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted.
            MemorySegment stat = a.allocate(ValueLayout.JAVA_LONG, 5);
            // The arguments are variadic: each goes as a whole register.
            long rc = (long) SYSCALL4.invokeExact(st, SYS_CACHESTAT, (long) fd, range, stat, 0L);
            return rc < 0 ? rc : stat.getAtIndex(ValueLayout.JAVA_LONG, 0);
        });
    }

    /** Whether the kernel has cachestat: asked about no file, it says EBADF rather than ENOSYS. */
    static boolean hasCachestat() {
        return cachedPages(-1, 0, 1) != -ENOSYS;
    }

    /** BLKGETSIZE64: the size of a block device in bytes, or -errno. */
    static long blockDeviceSize(int fd) {
        return call("ioctl", (a, st) -> {
            MemorySegment out = a.allocate(ValueLayout.JAVA_LONG);
            int rc = (int) IOCTL.invokeExact(st, fd, BLKGETSIZE64, out);
            return rc < 0 ? rc : out.get(ValueLayout.JAVA_LONG, 0);
        });
    }

    /** BLKSSZGET: the logical sector size of a block device, or -errno. */
    static int blockDeviceSectorSize(int fd) {
        return (int) call("ioctl", (a, st) -> {
            MemorySegment out = a.allocate(ValueLayout.JAVA_INT);
            int rc = (int) IOCTL.invokeExact(st, fd, BLKSSZGET, out);
            return rc < 0 ? rc : out.get(ValueLayout.JAVA_INT, 0);
        });
    }

    static String strerror(int errno) {
        return switch (errno) {
            case 1 -> "Operation not permitted";
            case 2 -> "No such file or directory";
            case 5 -> "Input/output error";
            case 6 -> "No such device or address";
            case 13 -> "Permission denied";
            case 16 -> "Device or resource busy";
            case 22 -> "Invalid argument";
            case 28 -> "No space left on device";
            case 30 -> "Read-only file system";
            case 95 -> "Operation not supported";
            default -> "errno " + errno;
        };
    }
}
