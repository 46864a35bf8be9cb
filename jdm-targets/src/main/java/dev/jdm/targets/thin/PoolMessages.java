package dev.jdm.targets.thin;

import dev.jdm.core.DmException;
import dev.jdm.core.Errno;
import dev.jdm.core.spi.Args;
import dev.jdm.pdata.ThinMetadata;

import java.util.OptionalLong;

/**
 * The thin-pool's messages as the kernel's pool_message takes them: names matched case-insensitively,
 * exact argument counts, decimal ids, the kernel's warnings as error texts.
 */
final class PoolMessages {
    private PoolMessages() {
    }

    static void handle(Pool pool, Args argv) throws DmException {
        pool.checkMessagesAllowed();
        switch (argv.shiftWord("message")) {
            case "create_thin" -> {
                argCount(argv, 2);
                String id = argv.shift("device id");
                long newId = deviceId(id);
                pool.changeMetadata("Creation of new thinly-provisioned device with id " + id + " failed",
                        false, md -> md.createThin(newId));
            }
            case "create_snap" -> {
                argCount(argv, 3);
                String id = argv.shift("device id");
                String origin = argv.shift("origin device id");
                long newId = deviceId(id);
                long originId = deviceId(origin);
                pool.changeMetadata("Creation of new snapshot " + id + " of device " + origin + " failed",
                        false, md -> md.createSnapshot(newId, originId));
            }
            case "delete" -> {
                argCount(argv, 2);
                String id = argv.shift("device id");
                long doomed = deviceId(id);
                pool.changeMetadata("Deletion of thin device " + id + " failed", false, md -> {
                    pool.checkNotOpen(doomed);
                    md.deleteDevice(doomed);
                });
            }
            case "set_transaction_id" -> {
                argCount(argv, 3);
                String current = argv.shift("current transaction id");
                String next = argv.shift("new transaction id");
                long currentId = transactionId(current, "Unrecognised id");
                long nextId = transactionId(next, "Unrecognised new id");
                pool.changeMetadata("Failed to change transaction id from " + current + " to " + next,
                        false, md -> md.setTransactionId(currentId, nextId));
            }
            case "reserve_metadata_snap" -> {
                argCount(argv, 1);
                pool.changeMetadata("reserve_metadata_snap message failed", true, ThinMetadata::reserveMetadataSnapshot);
            }
            case "release_metadata_snap" -> {
                argCount(argv, 1);
                pool.changeMetadata("release_metadata_snap message failed", false, ThinMetadata::releaseMetadataSnapshot);
            }
            default -> throw new DmException(Errno.EINVAL, "Unrecognised thin pool target message received: " + argv.get(0));
        }
    }

    private static void argCount(Args argv, int required) throws DmException {
        if (argv.count() != required) {
            throw new DmException(Errno.EINVAL, "Message received with " + argv.count() + " arguments instead of "
                    + required + ".");
        }
    }

    /** A device id as the kernel's read_dev_id takes it: kstrtoull, at most 2^24 - 1. */
    private static long deviceId(String s) throws DmException {
        OptionalLong id = Args.Rule.KSTRTOULL.parse(s);
        if (id.isEmpty() || Long.compareUnsigned(id.getAsLong(), ThinMetadata.MAX_DEVICE_ID) > 0) {
            throw new DmException(Errno.EINVAL, "Message received with invalid device id: " + s);
        }
        return id.getAsLong();
    }

    private static long transactionId(String s, String what) throws DmException {
        OptionalLong id = Args.Rule.KSTRTOULL.parse(s);
        if (id.isEmpty()) {
            throw new DmException(Errno.EINVAL, "set_transaction_id message: " + what + " " + s + ".");
        }
        return id.getAsLong();
    }
}
