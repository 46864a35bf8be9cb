package dev.jdm.nbd;

import dev.jdm.core.Errno;

/**
 * The numbers of the NBD protocol (NetworkBlockDevice/nbd doc/proto.md), shared by the server and
 * the client. Only the fixed newstyle handshake is spoken.
 */
public final class Nbd {
    private Nbd() {
    }

    public static final long INIT_MAGIC = 0x4e42444d41474943L; // "NBDMAGIC"
    public static final long OPTION_MAGIC = 0x49484156454F5054L; // "IHAVEOPT"
    public static final long OPTION_REPLY_MAGIC = 0x3e889045565a9L;
    public static final int REQUEST_MAGIC = 0x25609513;
    public static final int SIMPLE_REPLY_MAGIC = 0x67446698;
    public static final int STRUCTURED_REPLY_MAGIC = 0x668e33ef;

    // Handshake flags (server) and client flags.
    public static final int FLAG_FIXED_NEWSTYLE = 1;
    public static final int FLAG_NO_ZEROES = 2;
    public static final int FLAG_C_FIXED_NEWSTYLE = 1;
    public static final int FLAG_C_NO_ZEROES = 2;

    // Transmission flags.
    public static final int FLAG_HAS_FLAGS = 1;
    public static final int FLAG_READ_ONLY = 1 << 1;
    public static final int FLAG_SEND_FLUSH = 1 << 2;
    public static final int FLAG_SEND_FUA = 1 << 3;
    public static final int FLAG_ROTATIONAL = 1 << 4;
    public static final int FLAG_SEND_TRIM = 1 << 5;
    public static final int FLAG_SEND_WRITE_ZEROES = 1 << 6;
    public static final int FLAG_SEND_DF = 1 << 7;
    public static final int FLAG_CAN_MULTI_CONN = 1 << 8;
    public static final int FLAG_SEND_CACHE = 1 << 10;
    public static final int FLAG_SEND_FAST_ZERO = 1 << 11;

    // Options.
    public static final int OPT_EXPORT_NAME = 1;
    public static final int OPT_ABORT = 2;
    public static final int OPT_LIST = 3;
    public static final int OPT_STARTTLS = 5;
    public static final int OPT_INFO = 6;
    public static final int OPT_GO = 7;
    public static final int OPT_STRUCTURED_REPLY = 8;
    public static final int OPT_LIST_META_CONTEXT = 9;
    public static final int OPT_SET_META_CONTEXT = 10;

    // Option replies; errors have bit 31 set.
    public static final int REP_ACK = 1;
    public static final int REP_SERVER = 2;
    public static final int REP_INFO = 3;
    public static final int REP_META_CONTEXT = 4;
    public static final int REP_ERR_UNSUP = 0x80000001;
    public static final int REP_ERR_POLICY = 0x80000002;
    public static final int REP_ERR_INVALID = 0x80000003;
    public static final int REP_ERR_PLATFORM = 0x80000004;
    public static final int REP_ERR_TLS_REQD = 0x80000005;
    public static final int REP_ERR_UNKNOWN = 0x80000006;
    public static final int REP_ERR_SHUTDOWN = 0x80000007;
    public static final int REP_ERR_BLOCK_SIZE_REQD = 0x80000008;
    public static final int REP_ERR_TOO_BIG = 0x80000009;

    // Information types of NBD_OPT_INFO / NBD_OPT_GO.
    public static final int INFO_EXPORT = 0;
    public static final int INFO_NAME = 1;
    public static final int INFO_DESCRIPTION = 2;
    public static final int INFO_BLOCK_SIZE = 3;

    // Commands and command flags.
    public static final int CMD_READ = 0;
    public static final int CMD_WRITE = 1;
    public static final int CMD_DISC = 2;
    public static final int CMD_FLUSH = 3;
    public static final int CMD_TRIM = 4;
    public static final int CMD_CACHE = 5;
    public static final int CMD_WRITE_ZEROES = 6;
    public static final int CMD_BLOCK_STATUS = 7;
    public static final int CMD_FLAG_FUA = 1;
    public static final int CMD_FLAG_NO_HOLE = 1 << 1;
    public static final int CMD_FLAG_DF = 1 << 2;
    public static final int CMD_FLAG_REQ_ONE = 1 << 3;
    public static final int CMD_FLAG_FAST_ZERO = 1 << 4;

    // Structured reply flags and chunk types.
    public static final int REPLY_FLAG_DONE = 1;
    public static final int REPLY_TYPE_NONE = 0;
    public static final int REPLY_TYPE_OFFSET_DATA = 1;
    public static final int REPLY_TYPE_OFFSET_HOLE = 2;
    public static final int REPLY_TYPE_BLOCK_STATUS = 5;
    public static final int REPLY_TYPE_ERROR = (1 << 15) + 1;
    public static final int REPLY_TYPE_ERROR_OFFSET = (1 << 15) + 2;

    // Error values on the wire.
    public static final int EPERM = 1;
    public static final int EIO = 5;
    public static final int ENOMEM = 12;
    public static final int EINVAL = 22;
    public static final int ENOSPC = 28;
    public static final int EOVERFLOW = 75;
    public static final int ENOTSUP = 95;
    public static final int ESHUTDOWN = 108;

    /** The only metadata context jdm knows, and the id it gets on every connection. */
    public static final String BASE_ALLOCATION = "base:allocation";
    public static final int BASE_ALLOCATION_ID = 1;

    /** The largest READ or WRITE payload either side sends or accepts (the spec's interoperable maximum). */
    public static final int MAX_PAYLOAD = 32 << 20;
    /** Strings in the handshake (names, queries) are at most 4096 bytes. */
    public static final int MAX_STRING = 4096;

    /** The rest of a buffer as UTF-8 text (messages and names in replies). */
    static String utf8(java.nio.ByteBuffer b) {
        return java.nio.charset.StandardCharsets.UTF_8.decode(b.slice()).toString();
    }

    /** The NBD error a failed I/O is answered with: the spec allows only a few values. */
    public static int errorOf(Errno errno) {
        return switch (errno) {
            case EPERM, EACCES, EROFS -> EPERM;
            case ENOMEM -> ENOMEM;
            case EINVAL -> EINVAL;
            case ENOSPC, EFBIG -> ENOSPC;
            case EOVERFLOW -> EOVERFLOW;
            case EOPNOTSUPP -> ENOTSUP;
            case ENXIO, ENODEV -> ESHUTDOWN;
            default -> EIO;
        };
    }

    /** The errno a client reports for an NBD error; unknown values count as EINVAL, as the spec asks. */
    public static Errno errnoOf(int nbdError) {
        return switch (nbdError) {
            case EPERM -> Errno.EPERM;
            case EIO -> Errno.EIO;
            case ENOMEM -> Errno.ENOMEM;
            case ENOSPC -> Errno.ENOSPC;
            case EOVERFLOW -> Errno.EOVERFLOW;
            case ENOTSUP -> Errno.EOPNOTSUPP;
            case ESHUTDOWN -> Errno.ENXIO;
            default -> Errno.EINVAL;
        };
    }
}
