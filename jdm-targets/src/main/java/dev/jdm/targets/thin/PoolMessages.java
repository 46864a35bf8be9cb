package dev.jdm.targets.thin;

import dev.jdm.core.DmException;
import dev.jdm.core.Errno;
import dev.jdm.targets.thin.metadata.ThinMetadata;

import java.util.List;
import java.util.Locale;
import java.util.OptionalLong;

/**
 * The thin-pool's messages as the kernel's pool_message takes them: names matched case-insensitively,
 * exact argument counts, decimal ids, the kernel's warnings as error texts.
 */
final class PoolMessages {
    private PoolMessages() {
    }

    static void handle(Pool pool, List<String> argv) throws DmException {
        pool.checkMessagesAllowed();
        String verb = argv.getFirst();
        switch (verb.toLowerCase(Locale.ROOT)) {
            case "create_thin" -> {
                argCount(argv, 2);
                long id = deviceId(argv.get(1));
                pool.changeMetadata("Creation of new thinly-provisioned device with id " + argv.get(1) + " failed",
                        false, md -> md.createThin(id));
            }
            case "create_snap" -> {
                argCount(argv, 3);
                long id = deviceId(argv.get(1));
                long origin = deviceId(argv.get(2));
                pool.changeMetadata("Creation of new snapshot " + argv.get(1) + " of device " + argv.get(2) + " failed",
                        false, md -> md.createSnapshot(id, origin));
            }
            case "delete" -> {
                argCount(argv, 2);
                long id = deviceId(argv.get(1));
                pool.changeMetadata("Deletion of thin device " + argv.get(1) + " failed", false, md -> {
                    pool.checkNotOpen(id);
                    md.deleteDevice(id);
                });
            }
            case "set_transaction_id" -> {
                argCount(argv, 3);
                long current = transactionId(argv.get(1), "Unrecognised id");
                long next = transactionId(argv.get(2), "Unrecognised new id");
                pool.changeMetadata("Failed to change transaction id from " + argv.get(1) + " to " + argv.get(2),
                        false, md -> md.setTransactionId(current, next));
            }
            case "reserve_metadata_snap" -> {
                argCount(argv, 1);
                pool.changeMetadata("reserve_metadata_snap message failed", true, ThinMetadata::reserveMetadataSnapshot);
            }
            case "release_metadata_snap" -> {
                argCount(argv, 1);
                pool.changeMetadata("release_metadata_snap message failed", false, ThinMetadata::releaseMetadataSnapshot);
            }
            default -> throw new DmException(Errno.EINVAL, "Unrecognised thin pool target message received: " + verb);
        }
    }

    private static void argCount(List<String> argv, int required) throws DmException {
        if (argv.size() != required) {
            throw new DmException(Errno.EINVAL, "Message received with " + argv.size() + " arguments instead of "
                    + required + ".");
        }
    }

    /** A device id as the kernel's read_dev_id takes it: decimal, at most 2^24 - 1. */
    private static long deviceId(String s) throws DmException {
        OptionalLong id = u64(s);
        if (id.isEmpty() || Long.compareUnsigned(id.getAsLong(), ThinMetadata.MAX_DEVICE_ID) > 0) {
            throw new DmException(Errno.EINVAL, "Message received with invalid device id: " + s);
        }
        return id.getAsLong();
    }

    private static long transactionId(String s, String what) throws DmException {
        OptionalLong id = u64(s);
        if (id.isEmpty()) {
            throw new DmException(Errno.EINVAL, "set_transaction_id message: " + what + " " + s + ".");
        }
        return id.getAsLong();
    }

    /**
     * An unsigned 64-bit decimal as kstrtoull takes it: an optional leading '+', digits, an optional
     * trailing newline. Values of 2^63 and above come back as negative longs (unsigned).
     */
    static OptionalLong u64(String s) {
        String digits = s.startsWith("+") ? s.substring(1) : s;
        if (digits.endsWith("\n")) {
            digits = digits.substring(0, digits.length() - 1);
        }
        if (digits.isEmpty() || !digits.chars().allMatch(c -> c >= '0' && c <= '9')) {
            return OptionalLong.empty();
        }
        try {
            return OptionalLong.of(Long.parseUnsignedLong(digits));
        } catch (NumberFormatException e) {
            return OptionalLong.empty();
        }
    }
}
