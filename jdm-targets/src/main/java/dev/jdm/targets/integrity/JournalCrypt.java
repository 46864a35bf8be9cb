package dev.jdm.targets.integrity;

import javax.crypto.Cipher;
import javax.crypto.spec.ChaCha20ParameterSpec;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.GeneralSecurityException;

/**
 * {@code journal_crypt:<alg>:<hexkey>}: the journal encrypted on disk the way {@code create_journal}
 * and {@code encrypt_journal} encrypt it, so only a holder of the key learns what was written.
 * <ul>
 * <li>A stream cipher ({@code ctr(aes)}, {@code chacha20}) encrypts, once and with an all-zero IV,
 * a zero buffer of the journal's size in whole 4 KiB pages followed by the four commit-id bases.
 * The first part is a pad the journal is XORed with byte for byte ({@code journal_xor}); the
 * commit-id bases come out encrypted too, so the ids themselves depend on the key.</li>
 * <li>A block cipher ({@code cbc(aes)}, {@code ecb(aes)}) encrypts each section as one message.
 * Section i's IV is the encryption, under an all-zero IV, of {@code le32(i)} zero-padded to the
 * IV size rounded up to the block size; the commit-id bases stay the defaults.</li>
 * </ul>
 * Journal MACs are computed over the plaintext before encryption; the dirty bitmap of B mode and
 * the superblock are not encrypted.
 */
final class JournalCrypt {
    private static final int PAGE_SIZE = 4096;
    private static final int AES_BLOCK = 16;

    private enum Kind { CTR_AES, CHACHA20, CBC_AES, ECB_AES }

    private final String name;
    private final String keyHex;
    private final Kind kind;
    private final byte[] key;

    private JournalCrypt(String name, String keyHex, Kind kind, byte[] key) {
        this.name = name;
        this.keyHex = keyHex;
        this.kind = kind;
        this.key = key;
    }

    /** Parses {@code alg[:hexkey]} (the part after {@code journal_crypt:}), with the kernel's error wording. */
    static JournalCrypt parse(String spec) throws IntegrityHash.AlgorithmException {
        AlgSpec parsed = AlgSpec.parse(spec, "Invalid journal_crypt argument");
        String alg = parsed.alg();
        byte[] key = parsed.key();
        Kind kind = switch (alg) {
            case "ctr(aes)" -> Kind.CTR_AES;
            case "chacha20" -> Kind.CHACHA20;
            case "cbc(aes)" -> Kind.CBC_AES;
            case "ecb(aes)" -> Kind.ECB_AES;
            default -> throw new IntegrityHash.AlgorithmException("Invalid journal cipher (jdm knows ctr(aes), chacha20,"
                    + " cbc(aes), ecb(aes)): " + alg);
        };
        if (key == null) {
            // The kernel fails the first encryption without a key.
            throw new IntegrityHash.AlgorithmException(kind == Kind.CTR_AES || kind == Kind.CHACHA20
                    ? "Unable to encrypt journal (no key)" : "Unable to generate iv (no key)");
        }
        boolean keyFits = kind == Kind.CHACHA20 ? key.length == 32 : key.length == 16 || key.length == 24 || key.length == 32;
        if (!keyFits) {
            throw new IntegrityHash.AlgorithmException("Error setting encryption key (" + key.length + " bytes for " + alg + ")");
        }
        return new JournalCrypt(alg, parsed.keyHex(), kind, key);
    }

    /** As the table shows it: {@code alg:hexkey}. */
    @Override
    public String toString() {
        return name + ":" + keyHex;
    }

    /** The cipher bound to one journal's geometry: its pad or section IVs, and the commit-id bases it implies. */
    Bound bind(int sections, int sectionSectors) {
        return new Bound(sections, sectionSectors);
    }

    final class Bound {
        private final int sectionBytes;
        /** Stream ciphers: the pad the journal is XORed with. Null for block ciphers. */
        private final byte[] pad;
        /** Block ciphers with an IV: section i's IV at [16 i, 16 i + 16). */
        private final byte[] sectionIvs;
        private final long[] commitBases;

        private Bound(int sections, int sectionSectors) {
            this.sectionBytes = sectionSectors << 9;
            long journalBytes = (long) sections * sectionBytes;
            long pages = (journalBytes + PAGE_SIZE - 1) / PAGE_SIZE;
            long[] bases = IntegrityJournal.COMMIT_BASES.clone();
            if (kind == Kind.CTR_AES || kind == Kind.CHACHA20) {
                int padBytes = Math.toIntExact(pages * PAGE_SIZE);
                byte[] stream = keystream(padBytes + 8 * bases.length);
                ByteBuffer tail = ByteBuffer.wrap(stream).order(ByteOrder.LITTLE_ENDIAN);
                for (int k = 0; k < bases.length; k++) {
                    bases[k] ^= tail.getLong(padBytes + 8 * k);
                }
                this.pad = stream;
                this.sectionIvs = null;
            } else {
                this.pad = null;
                this.sectionIvs = kind == Kind.CBC_AES ? sectionIvs(sections) : null;
            }
            this.commitBases = distinct(bases);
        }

        /** The four commit-id bases; equal ones are bumped until they differ, as the kernel does. */
        long[] commitBases() {
            return commitBases.clone();
        }

        /** Encrypts sections [section, section + count) of {@code plain} into the same place of {@code out}. */
        void encrypt(byte[] plain, byte[] out, int section, int count) {
            transform(plain, out, section, count, true);
        }

        void decrypt(byte[] in, byte[] plain, int section, int count) {
            transform(in, plain, section, count, false);
        }

        private void transform(byte[] src, byte[] dst, int section, int count, boolean encrypt) {
            int from = section * sectionBytes;
            int length = count * sectionBytes;
            if (pad != null) {
                for (int i = from; i < from + length; i++) {
                    dst[i] = (byte) (src[i] ^ pad[i]);
                }
                return;
            }
            try {
                for (int s = section; s < section + count; s++) {
                    Cipher c = blockCipher(encrypt ? Cipher.ENCRYPT_MODE : Cipher.DECRYPT_MODE,
                            sectionIvs == null ? null : new IvParameterSpec(sectionIvs, s * AES_BLOCK, AES_BLOCK));
                    int at = s * sectionBytes;
                    c.doFinal(src, at, sectionBytes, dst, at);
                }
            } catch (GeneralSecurityException e) {
                throw new IllegalStateException("journal " + name + " failed", e);
            }
        }
    }

    private byte[] keystream(int length) {
        try {
            Cipher c;
            if (kind == Kind.CTR_AES) {
                c = Cipher.getInstance("AES/CTR/NoPadding");
                c.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(key, "AES"), new IvParameterSpec(new byte[AES_BLOCK]));
            } else {
                // The kernel's 16-byte chacha20 IV is le32 counter ‖ 96-bit nonce: all zero here.
                c = Cipher.getInstance("ChaCha20");
                c.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(key, "ChaCha20"), new ChaCha20ParameterSpec(new byte[12], 0));
            }
            return c.doFinal(new byte[length]);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("journal " + name + " keystream failed", e);
        }
    }

    private byte[] sectionIvs(int sections) {
        byte[] ivs = new byte[sections * AES_BLOCK];
        try {
            Cipher c = blockCipher(Cipher.ENCRYPT_MODE, new IvParameterSpec(new byte[AES_BLOCK]));
            byte[] block = new byte[AES_BLOCK];
            for (int i = 0; i < sections; i++) {
                ByteBuffer.wrap(block).order(ByteOrder.LITTLE_ENDIAN).putInt(0, i);
                c.doFinal(block, 0, AES_BLOCK, ivs, i * AES_BLOCK);
            }
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("journal " + name + " IV generation failed", e);
        }
        return ivs;
    }

    private Cipher blockCipher(int mode, IvParameterSpec iv) throws GeneralSecurityException {
        Cipher c = Cipher.getInstance(kind == Kind.CBC_AES ? "AES/CBC/NoPadding" : "AES/ECB/NoPadding");
        SecretKeySpec k = new SecretKeySpec(key, "AES");
        if (iv == null) {
            c.init(mode, k);
        } else {
            c.init(mode, k, iv);
        }
        return c;
    }

    private static long[] distinct(long[] bases) {
        for (int i = 0; i < bases.length; i++) {
            for (int j = 0; j < i; j++) {
                if (bases[j] == bases[i]) {
                    bases[i]++;
                    j = -1;
                }
            }
        }
        return bases;
    }
}
