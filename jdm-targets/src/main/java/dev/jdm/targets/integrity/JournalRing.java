package dev.jdm.targets.integrity;

import dev.jdm.core.io.BlockDevice;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.HashMap;
import java.util.Map;

/**
 * The journal used as a circular log, as dm-integrity.c keeps it in {@code free_section},
 * {@code uncommitted_section}, {@code committed_section} and {@code commit_seq}: new blocks fill free
 * entries section by section; a commit stamps the filled sections with the lap's commit id and
 * writes them; writeback copies committed sections home and frees them. Passing the last section
 * starts a new lap with the next commit id, which is how a replay tells old sections from new.
 * It also remembers each block's newest entry, so a read sees what only the journal holds yet.
 * Not thread-safe: the target calls it under its lock.
 */
final class JournalRing {
    /** Copies committed sections {@code [start, start+count)} (wrapping) to their home. */
    interface Writer {
        void copyHome(int start, int count) throws IOException;
    }

    private final IntegrityJournal journal;
    private final BlockDevice meta;
    private final int sections;
    private final int entriesPerSection;
    private final long entries;
    /** Free entries at or below which a write commits and writes back at once ({@code free_sectors_threshold}). */
    private final long freeThreshold;

    private int commitSeq;
    private int freeSection;
    private int freeEntry;
    private long freeEntries;
    private int uncommittedSection;
    private int nUncommitted;
    private int committedSection;
    private int nCommitted;
    /** Logical sector of a block → global journal position (section · entries per section + entry) of its newest entry. */
    private final Map<Long, Integer> newest = new HashMap<>();

    JournalRing(IntegrityJournal journal, BlockDevice meta, IntegrityGeometry g, int watermarkPercent) {
        this.journal = journal;
        this.meta = meta;
        this.sections = journal.sections();
        this.entriesPerSection = g.journalSectionEntries;
        this.entries = g.journalEntries;
        this.freeThreshold = (entries * (100 - watermarkPercent) + 50) / 100;
        this.freeEntries = entries;
    }

    boolean full() {
        return freeEntries == 0;
    }

    /** Whether the free entries have fallen to the watermark: time to commit and write back. */
    boolean pastWatermark() {
        return freeEntries <= freeThreshold;
    }

    /** The journal_watermark the threshold stands for, rounded as the kernel's status rounds it. */
    long watermarkPercent() {
        return ((entries - freeThreshold) * 100 + entries / 2) / entries;
    }

    /** Puts one block into the next free entry ({@code __journal_read_write}); the caller made room first. */
    void append(long sector, byte[] data, int offset, byte[] tag) {
        journal.putBlock(freeSection, freeEntry, sector, data, offset, tag);
        newest.put(sector, freeSection * entriesPerSection + freeEntry);
        freeEntries--;
        if (++freeEntry == entriesPerSection) {
            freeEntry = 0;
            freeSection = (freeSection + 1) % sections;
            nUncommitted++;
        }
    }

    boolean holds(long sector) {
        return newest.containsKey(sector);
    }

    /** Copies the block's newest journalled data to {@code out} at {@code at}; false when the journal has none. */
    boolean readNewest(long sector, ByteBuffer out, int at, int blockBytes) {
        Integer pos = newest.get(sector);
        if (pos == null) {
            return false;
        }
        byte[] block = new byte[blockBytes];
        journal.getBlock(pos / entriesPerSection, pos % entriesPerSection, block, 0);
        out.put(at, block);
        return true;
    }

    /** Entry {@code n} of a section has gone home: a read no longer looks there unless a newer entry exists. */
    void wentHome(long sector, int section, int n) {
        Integer pos = newest.get(sector);
        if (pos != null && pos == section * entriesPerSection + n) {
            newest.remove(sector);
        }
    }

    /**
     * {@code integrity_commit}: closes the open section and writes the uncommitted ones with this
     * lap's commit ids, durable on return. False when there was nothing to write.
     */
    boolean commit() throws IOException {
        if (freeEntry != 0) {
            freeEntries -= entriesPerSection - freeEntry;
            freeEntry = 0;
            freeSection = (freeSection + 1) % sections;
            nUncommitted++;
        }
        if (nUncommitted == 0) {
            return false;
        }
        int i = uncommittedSection;
        for (int n = 0; n < nUncommitted; n++) {
            journal.setCommitIds(i, commitSeq);
            if (++i >= sections) {
                commitSeq = IntegrityJournal.nextSeq(commitSeq);
                i = 0;
            }
        }
        journal.write(meta, uncommittedSection, nUncommitted);
        uncommittedSection = (uncommittedSection + nUncommitted) % sections;
        nCommitted += nUncommitted;
        nUncommitted = 0;
        return true;
    }

    /** {@code integrity_writer}: the committed sections go home and their entries are free again. */
    void writeback(Writer writer) throws IOException {
        if (nCommitted == 0) {
            return;
        }
        writer.copyHome(committedSection, nCommitted);
        committedSection = (committedSection + nCommitted) % sections;
        freeEntries += (long) nCommitted * entriesPerSection;
        nCommitted = 0;
    }

    /**
     * After a replay ({@code replay_journal}'s end): continue the lap where the journal stands, or
     * erase it with a sequence two behind the last one used, so no section passes for live, and start
     * at section 0 with the sequence after it.
     */
    void restartAfterReplay(IntegrityJournal.ReplayPlan plan, boolean continueLap) throws IOException {
        int continueSection;
        if (continueLap) {
            continueSection = plan.writeStart();
            commitSeq = plan.wantSeq();
        } else {
            int erase = IntegrityJournal.prevSeq(IntegrityJournal.prevSeq(plan.lastUsed()));
            int s = plan.writeStart();
            journal.init(s, 1, erase);
            journal.write(meta, s, 1);
            s = (s + 1) % sections;
            if (sections >= 2) {
                journal.init(s, sections - 2, erase);
                journal.write(meta, s, sections - 2);
                s = (s + sections - 2) % sections;
                journal.init(s, 1, erase);
                journal.write(meta, s, 1);
            }
            continueSection = 0;
            commitSeq = IntegrityJournal.nextSeq(erase);
        }
        committedSection = uncommittedSection = freeSection = continueSection;
        nCommitted = nUncommitted = 0;
        freeEntry = 0;
        freeEntries = entries;
        newest.clear();
    }

    /**
     * J mode's suspend ({@code dm_integrity_postsuspend}): the sections from the free one to the end
     * get this lap's commit id, those before it the next one, all empty, so a replay finds nothing to copy.
     */
    void clearForSuspend() throws IOException {
        journal.init(freeSection, sections - freeSection, commitSeq);
        journal.write(meta, freeSection, sections - freeSection);
        if (freeSection != 0) {
            journal.init(0, freeSection, IntegrityJournal.nextSeq(commitSeq));
            journal.write(meta, 0, freeSection);
        }
    }
}
