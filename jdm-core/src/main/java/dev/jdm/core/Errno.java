package dev.jdm.core;

/** The errno values the device-mapper control and I/O paths report, with their Linux numbers. */
public enum Errno {
    EPERM(1), ENOENT(2), EIO(5), ENXIO(6), EAGAIN(11), ENOMEM(12), EACCES(13), EBUSY(16), EEXIST(17),
    ENODEV(19), EINVAL(22), EFBIG(27), ENOSPC(28), EROFS(30), ENOTTY(25), EOPNOTSUPP(95), ETIMEDOUT(110),
    EILSEQ(84), EOVERFLOW(75), ENODATA(61);

    public final int number;

    Errno(int number) {
        this.number = number;
    }
}
