package dev.jdm.formats.luks;

/** The two LUKS on-disk formats. */
public enum LuksVersion {
    LUKS1,
    LUKS2;

    public int number() {
        return ordinal() + 1;
    }
}
