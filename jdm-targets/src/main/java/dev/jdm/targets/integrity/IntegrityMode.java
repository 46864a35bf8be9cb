package dev.jdm.targets.integrity;

/**
 * dm-integrity's modes, each known by the letter the table line carries ({@code <mode>}). Inline (I)
 * is absent: it needs per-sector metadata that jdm block devices do not carry.
 */
public enum IntegrityMode {
    /** J: data and tags go through the journal first; a crash leaves old or new blocks, never a mix. */
    JOURNAL('J'),
    /** B: in place, with regions marked dirty in a bitmap first and their tags recalculated after a crash. */
    BITMAP('B'),
    /** D: in place without a journal; a crash may leave blocks whose tags do not match. */
    DIRECT('D'),
    /** R: reads without checking tags, writes nothing. */
    RECOVERY('R');

    private final char letter;

    IntegrityMode(char letter) {
        this.letter = letter;
    }

    /** The mode of a table line's letter, or null for a letter that is none of J, B, D, R. */
    static IntegrityMode ofLetter(String letter) {
        for (IntegrityMode m : values()) {
            if (letter.length() == 1 && letter.charAt(0) == m.letter) {
                return m;
            }
        }
        return null;
    }

    /** Whether the target keeps an in-memory journal area (every mode but recovery; B keeps its bitmap there). */
    boolean hasJournalArea() {
        return this != RECOVERY;
    }

    /** The letter, as the table line shows it. */
    @Override
    public String toString() {
        return String.valueOf(letter);
    }
}
