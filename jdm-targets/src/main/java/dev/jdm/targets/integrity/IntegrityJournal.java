package dev.jdm.targets.integrity;

import dev.jdm.core.io.BlockDevice;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * The journal area in memory, byte for byte as it sits on disk: {@code sections} sections of
 * {@code sectionSectors} sectors. In a section, entries are spread round-robin over the first 8
 * sectors (entry n in sector n % 8, slot n / 8); block n's data follows in sectors 8 + n·spb.
 * Every 512-byte sector ends with a commit id; the bytes a data sector loses to it are kept in the
 * entry ("last bytes"). A commit id is one of four rotating sequence values XOR (section << 32 ^ sector),
 * so a sector written to the wrong place or left over from an earlier lap is recognised.
 * With journal_crypt the image stays plaintext in memory and is encrypted on its way to the disk.
 */
final class IntegrityJournal {
    static final int N_COMMIT_IDS = 4;
    static final long[] COMMIT_BASES = {0x1111111111111111L, 0x2222222222222222L, 0x3333333333333333L, 0x4444444444444444L};
    private static final int COMMIT_ID_OFFSET = IntegrityGeometry.JOURNAL_SECTOR_DATA;
    private static final int MAC_OFFSET = IntegrityGeometry.JOURNAL_SECTOR_DATA - IntegrityGeometry.JOURNAL_MAC_PER_SECTOR;
    /** An entry whose sector's high word is this is free; the kernel's in-progress marker (…FE) never reaches our disk. */
    static final int UNUSED_HI = 0xFFFFFFFF;

    private final IntegrityGeometry g;
    private final int sections;
    /** The journal MAC and, with FIXED_HMAC, the superblock salt it covers; null without journal_mac. */
    private final IntegrityHash mac;
    private final byte[] salt;
    /** The journal_crypt cipher bound to this journal, or null: then the image is written as it is. */
    private final JournalCrypt.Bound crypt;
    /** The commit-id bases: the defaults, or with a stream cipher their encryption. */
    private final long[] commitBases;
    final byte[] image;
    /** With journal_crypt, the encrypted image the disk sees ({@code journal_io}); null without. */
    private final byte[] io;
    private final ByteBuffer le;

    IntegrityJournal(IntegrityGeometry g, IntegrityHash mac, byte[] salt, JournalCrypt cipher) {
        this.g = g;
        this.mac = mac;
        this.salt = salt;
        this.sections = (int) g.journalSections;
        long bytes = g.journalSectors() << 9;
        if (bytes > Integer.MAX_VALUE - 64) {
            throw new IllegalArgumentException("Journal doesn't fit into memory");
        }
        this.crypt = cipher == null ? null : cipher.bind(sections, g.journalSectionSectors);
        this.commitBases = crypt == null ? COMMIT_BASES.clone() : crypt.commitBases();
        this.image = new byte[(int) bytes];
        this.io = crypt == null ? null : new byte[(int) bytes];
        this.le = ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN);
    }

    int sections() {
        return sections;
    }

    long commitId(int section, int sector, int seq) {
        return commitBases[seq] ^ (((long) section << 32) ^ sector);
    }

    static int nextSeq(int seq) {
        return (seq + 1) % N_COMMIT_IDS;
    }

    static int prevSeq(int seq) {
        return (seq + N_COMMIT_IDS - 1) % N_COMMIT_IDS;
    }

    /** Byte offset of sector {@code sector} of section {@code section} in the image. */
    int sectorByte(int section, int sector) {
        return (section * g.journalSectionSectors + sector) << 9;
    }

    int entryByte(int section, int n) {
        return sectorByte(section, n % IntegrityGeometry.JOURNAL_BLOCK_SECTORS)
                + (n / IntegrityGeometry.JOURNAL_BLOCK_SECTORS) * g.journalEntrySize;
    }

    int dataByte(int section, int n) {
        return sectorByte(section, IntegrityGeometry.JOURNAL_BLOCK_SECTORS + (n << g.log2SectorsPerBlock));
    }

    int tagByte(int section, int n) {
        return entryByte(section, n) + 8 + 8 * g.sectorsPerBlock;
    }

    long storedCommitId(int section, int sector) {
        return le.getLong(sectorByte(section, sector) + COMMIT_ID_OFFSET);
    }

    void setCommitIds(int section, int seq) {
        for (int j = 0; j < g.journalSectionSectors; j++) {
            le.putLong(sectorByte(section, j) + COMMIT_ID_OFFSET, commitId(section, j, seq));
        }
    }

    boolean isUnused(int section, int n) {
        return le.getInt(entryByte(section, n) + 4) == UNUSED_HI;
    }

    void setUnused(int section, int n) {
        le.putInt(entryByte(section, n) + 4, UNUSED_HI);
    }

    long entrySector(int section, int n) {
        return le.getLong(entryByte(section, n));
    }

    /**
     * Puts one block into entry n: the data goes to its journal sectors, the last 8 bytes of each
     * 512-byte sector into the entry (their place is the commit id's), then the tag and the sector.
     */
    void putBlock(int section, int n, long logicalSector, byte[] block, int blockOffset, byte[] tag) {
        int entry = entryByte(section, n);
        int data = dataByte(section, n);
        for (int s = 0; s < g.sectorsPerBlock; s++) {
            int from = blockOffset + (s << 9);
            System.arraycopy(block, from, image, data + (s << 9), IntegrityGeometry.JOURNAL_SECTOR_DATA);
            System.arraycopy(block, from + IntegrityGeometry.JOURNAL_SECTOR_DATA, image, entry + 8 + 8 * s, 8);
        }
        System.arraycopy(tag, 0, image, entry + 8 + 8 * g.sectorsPerBlock, g.tagSize);
        le.putLong(entry, logicalSector);
    }

    /** Copies block n's data out, putting each sector's saved last bytes back. */
    void getBlock(int section, int n, byte[] dst, int dstOffset) {
        int entry = entryByte(section, n);
        int data = dataByte(section, n);
        for (int s = 0; s < g.sectorsPerBlock; s++) {
            int to = dstOffset + (s << 9);
            System.arraycopy(image, data + (s << 9), dst, to, IntegrityGeometry.JOURNAL_SECTOR_DATA);
            System.arraycopy(image, entry + 8 + 8 * s, dst, to + IntegrityGeometry.JOURNAL_SECTOR_DATA, 8);
        }
    }

    byte[] tag(int section, int n) {
        int at = tagByte(section, n);
        return Arrays.copyOfRange(image, at, at + g.tagSize);
    }

    /** {@code init_journal}: empty sections, every entry unused, commit ids of {@code seq}. */
    void init(int startSection, int count, int seq) {
        for (int k = 0; k < count; k++) {
            int i = (startSection + k) % sections;
            for (int j = 0; j < g.journalSectionSectors; j++) {
                int at = sectorByte(i, j);
                Arrays.fill(image, at, at + COMMIT_ID_OFFSET, (byte) 0);
            }
            setCommitIds(i, seq);
            for (int n = 0; n < g.journalSectionEntries; n++) {
                setUnused(i, n);
            }
        }
    }

    /** Every section empty with commit id 0, written: a fresh journal, or one whose contents must not be replayed. */
    void clearAll(BlockDevice dev) throws IOException {
        init(0, sections, 0);
        write(dev, 0, sections);
    }

    /**
     * The section MAC ({@code section_mac}): over [salt, le64 section] when the superblock has
     * FIXED_HMAC, then every entry's 8-byte sector field; 64 bytes spread 8 per sector over the
     * first 8 sectors, zero-padded or truncated.
     */
    byte[] sectionMac(int section) {
        IntegrityHash.Session s = mac.begin();
        if (salt != null) {
            s.update(salt, 0, salt.length);
            byte[] sectionLe = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, section).array();
            s.update(sectionLe, 0, 8);
        }
        for (int n = 0; n < g.journalSectionEntries; n++) {
            s.update(image, entryByte(section, n), 8);
        }
        return Arrays.copyOf(s.finish(), IntegrityGeometry.JOURNAL_BLOCK_SECTORS * IntegrityGeometry.JOURNAL_MAC_PER_SECTOR);
    }

    private void storeSectionMac(int section) {
        byte[] m = sectionMac(section);
        for (int j = 0; j < IntegrityGeometry.JOURNAL_BLOCK_SECTORS; j++) {
            System.arraycopy(m, j * 8, image, sectorByte(section, j) + MAC_OFFSET, 8);
        }
    }

    /** True without a journal MAC; otherwise whether the section's stored MAC matches its entries. */
    boolean verifySectionMac(int section) {
        if (mac == null) {
            return true;
        }
        byte[] m = sectionMac(section);
        for (int j = 0; j < IntegrityGeometry.JOURNAL_BLOCK_SECTORS; j++) {
            if (!Arrays.equals(m, j * 8, j * 8 + 8, image, sectorByte(section, j) + MAC_OFFSET, sectorByte(section, j) + MAC_OFFSET + 8)) {
                return false;
            }
        }
        return true;
    }

    /** Reads the whole journal, decrypting it with journal_crypt. */
    void readAll(BlockDevice dev) throws IOException {
        if (crypt == null) {
            dev.read(g.journalByte(0), ByteBuffer.wrap(image));
        } else {
            dev.read(g.journalByte(0), ByteBuffer.wrap(io));
            crypt.decrypt(io, image, 0, sections);
        }
    }

    /** Writes sections [start, start+count) (wrapping) in at most two I/Os, durable on return. */
    void write(BlockDevice dev, int start, int count) throws IOException {
        if (mac != null) {
            for (int k = 0; k < count; k++) {
                storeSectionMac((start + k) % sections);
            }
        }
        int first = Math.min(count, sections - start);
        if (crypt != null) {
            crypt.encrypt(image, io, start, first);
            if (count > first) {
                crypt.encrypt(image, io, 0, count - first);
            }
        }
        writeRange(dev, start, first);
        if (count > first) {
            writeRange(dev, 0, count - first);
        }
    }

    private void writeRange(BlockDevice dev, int section, int count) throws IOException {
        int from = sectorByte(section, 0);
        int length = count * g.journalSectionSectors << 9;
        dev.write(g.journalByte((long) section * g.journalSectionSectors), ByteBuffer.wrap(io != null ? io : image, from, length), true);
    }

    /** Which sections a replay covers, found the way {@code replay_journal} finds them. */
    record ReplayPlan(boolean consistent, int writeStart, int writeSections, boolean empty, int lastUsed, int wantSeq) {
    }

    ReplayPlan plan() {
        boolean[] used = new boolean[N_COMMIT_IDS];
        int[] maxSection = new int[N_COMMIT_IDS];
        boolean empty = true;
        for (int i = 0; i < sections; i++) {
            for (int j = 0; j < g.journalSectionSectors; j++) {
                int k = seqOf(i, j, storedCommitId(i, j));
                if (k < 0) {
                    return new ReplayPlan(false, 0, 0, true, 0, 0);
                }
                used[k] = true;
                maxSection[k] = i;
            }
            if (empty) {
                for (int n = 0; n < g.journalSectionEntries; n++) {
                    if (!isUnused(i, n)) {
                        empty = false;
                        break;
                    }
                }
            }
        }
        int unused;
        if (!used[N_COMMIT_IDS - 1]) {
            unused = N_COMMIT_IDS - 1;
            while (unused > 0 && !used[unused - 1]) {
                unused--;
            }
        } else {
            unused = 0;
            while (unused < N_COMMIT_IDS && used[unused]) {
                unused++;
            }
            if (unused == N_COMMIT_IDS) {
                return new ReplayPlan(false, 0, 0, true, 0, 0);
            }
        }
        int lastUsed = prevSeq(unused);
        int want = prevSeq(lastUsed);
        if (!used[want] && used[prevSeq(want)]) {
            empty = true;
        }
        int writeStart = maxSection[lastUsed] + 1;
        if (writeStart >= sections) {
            want = nextSeq(want);
            writeStart -= sections;
        }
        int i = writeStart;
        int count = 0;
        scan:
        for (; count < sections; count++) {
            for (int j = 0; j < g.journalSectionSectors; j++) {
                if (storedCommitId(i, j) != commitId(i, j, want)) {
                    break scan;
                }
            }
            i++;
            if (i >= sections) {
                want = nextSeq(want);
                i = 0;
            }
        }
        return new ReplayPlan(true, writeStart, count, empty, lastUsed, want);
    }

    private int seqOf(int section, int sector, long id) {
        for (int k = 0; k < N_COMMIT_IDS; k++) {
            if (commitId(section, sector, k) == id) {
                return k;
            }
        }
        return -1;
    }
}
