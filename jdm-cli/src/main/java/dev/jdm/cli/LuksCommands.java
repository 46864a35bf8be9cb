package dev.jdm.cli;

import dev.jdm.daemon.ControlClient;
import dev.jdm.formats.luks.FormatOptions;
import dev.jdm.formats.luks.HashAlgorithm;
import dev.jdm.formats.luks.KdfOptions;
import dev.jdm.formats.luks.Luks;
import dev.jdm.formats.luks.LuksDevice;
import dev.jdm.formats.luks.LuksVersion;
import dev.jdm.formats.luks.OpenOptions;
import dev.jdm.formats.luks.Unlocked;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * {@code jdm luks ...}: cryptsetup's LUKS commands on dev.jdm.formats.luks.Luks (docs/luks.md). The
 * header work runs here; open and close ask the daemon to create or remove the crypt mapping.
 */
@Command(name = "luks", description = "LUKS1/LUKS2 volumes, compatible with cryptsetup (see docs/luks.md).",
        subcommands = {LuksCommands.Format.class, LuksCommands.Open.class, CloseMapping.class,
                LuksCommands.Dump.class, LuksCommands.AddKey.class, LuksCommands.RemoveKey.class,
                LuksCommands.ChangeKey.class, LuksCommands.TestPassphrase.class})
final class LuksCommands {

    /** The device and its optional detached header. */
    static final class Device {
        @Parameters(index = "0", paramLabel = "DEVICE", description = "The LUKS device (file or block device).")
        Path device;
        @Option(names = "--header", paramLabel = "FILE", description = "A detached LUKS header.")
        Path header;

        LuksDevice luks() {
            return header == null ? LuksDevice.of(device) : LuksDevice.detached(device, header);
        }
    }

    /** --key-file and its window: the passphrase that unlocks. */
    static final class KeyFile {
        @Option(names = {"-d", "--key-file"}, paramLabel = "FILE", description = "Read the passphrase from FILE (- = standard input), raw bytes.")
        Path keyFile;
        @Option(names = "--keyfile-offset", paramLabel = "BYTES", description = "Skip this many bytes of the key file.")
        long offset;
        @Option(names = {"-l", "--keyfile-size"}, paramLabel = "BYTES", description = "Read exactly this many bytes of the key file.")
        long size;

        byte[] read(String prompt, boolean verify) throws IOException {
            return Passphrases.read(keyFile, offset, size, prompt, verify);
        }
    }

    /** The KDF of a new keyslot; the defaults are cryptsetup's for the header's version. */
    static final class Kdf {
        @Option(names = "--pbkdf", paramLabel = "pbkdf2|argon2i|argon2id", description = "Keyslot KDF (LUKS1: pbkdf2; LUKS2 default argon2id).")
        String pbkdf;
        @Option(names = "--hash", paramLabel = "NAME", description = "PBKDF2 / AF / digest hash (default sha256).")
        String hash;
        @Option(names = {"-i", "--iter-time"}, paramLabel = "MS", description = "Benchmark the KDF cost to take this long (default 2000).")
        Integer iterTime;
        @Option(names = "--pbkdf-force-iterations", paramLabel = "N", description = "PBKDF2 iterations or Argon2 time cost; no benchmark.")
        Integer forcedIterations;
        @Option(names = "--pbkdf-memory", paramLabel = "KIB", description = "Argon2 memory cost (default 1048576).")
        Integer memory;
        @Option(names = "--pbkdf-parallel", paramLabel = "N", description = "Argon2 threads (default min(4, CPUs)).")
        Integer parallel;

        boolean given() {
            return pbkdf != null || hash != null || iterTime != null || forcedIterations != null || memory != null || parallel != null;
        }

        KdfOptions options(LuksVersion version) throws IOException {
            KdfOptions d = version == LuksVersion.LUKS1 ? KdfOptions.defaultsLuks1() : KdfOptions.defaultsLuks2();
            String p = pbkdf != null ? pbkdf : d.pbkdf();
            boolean argon = !p.equalsIgnoreCase("pbkdf2");
            // An Argon2 default asked for PBKDF2 (or the other way) takes that KDF's own defaults.
            int mem = memory != null ? memory : argon ? KdfOptions.defaultsLuks2().memoryKiB() : 0;
            int par = parallel != null ? parallel : argon ? KdfOptions.defaultsLuks2().parallel() : 0;
            return new KdfOptions(p, hash != null ? HashAlgorithm.byName(hash) : d.hash(), iterTime != null ? iterTime : d.iterTimeMs(),
                    forcedIterations != null ? forcedIterations : 0, mem, par);
        }

        /** The options for a new slot in an existing header, or null for the library's defaults. */
        KdfOptions optionsFor(LuksDevice device) throws IOException {
            return given() ? options(Luks.version(device)) : null;
        }
    }

    @Command(name = "format", description = {"Writes a new LUKS header with one keyslot (cryptsetup luksFormat).",
            "The data area is not touched."})
    static final class Format extends LocalCommand {
        @Mixin
        Device device;
        @ArgGroup(exclusive = false)
        KeyFile key = new KeyFile();
        @Mixin
        Kdf kdf;
        @Option(names = {"-M", "--type"}, paramLabel = "luks1|luks2", description = "Header format (default luks2).")
        String type = "luks2";
        @Option(names = {"-c", "--cipher"}, paramLabel = "SPEC", description = "Cipher (default aes-xts-plain64).")
        String cipher = FormatOptions.DEFAULT_CIPHER;
        @Option(names = {"-s", "--key-size"}, paramLabel = "BITS", description = "Volume key size (default 512 for XTS, else 256).")
        int keySize;
        @Option(names = "--sector-size", paramLabel = "BYTES", description = "LUKS2 encryption sector size (default 4096 when the data allows).")
        int sectorSize;
        @Option(names = "--offset", paramLabel = "SECTORS", description = "Data offset in 512-byte sectors.")
        long offset = -1;
        @Option(names = "--align-payload", paramLabel = "SECTORS", description = "LUKS1 payload alignment (default 2048).")
        long align = FormatOptions.DEFAULT_ALIGN_SECTORS;
        @Option(names = "--uuid", paramLabel = "UUID", description = "Header UUID (default random).")
        String uuid;
        @Option(names = "--label", paramLabel = "LABEL", description = "LUKS2 label.")
        String label = "";
        @Option(names = "--subsystem", paramLabel = "NAME", description = "LUKS2 subsystem.")
        String subsystem = "";
        @Option(names = {"-S", "--key-slot"}, paramLabel = "N", description = "Slot of the passphrase (default 0).")
        int keySlot;
        @Option(names = "--volume-key-file", paramLabel = "FILE", description = "Use this volume key instead of a random one.")
        Path volumeKeyFile;

        @Override
        int run() throws IOException {
            LuksVersion version = switch (type.toLowerCase(Locale.ROOT)) {
                case "luks1" -> LuksVersion.LUKS1;
                case "luks2", "luks" -> LuksVersion.LUKS2;
                default -> throw new IllegalArgumentException("Unknown LUKS type " + type + ".");
            };
            FormatOptions options = FormatOptions.defaults(version).withCipher(cipher, keySize).withKdf(kdf.options(version))
                    .withSectorSize(sectorSize).withUuid(uuid).withLabel(label, subsystem).withOffset(offset, align).withKeySlot(keySlot);
            if (volumeKeyFile != null) {
                byte[] volumeKey = Files.readAllBytes(volumeKeyFile);
                options = options.withVolumeKey(volumeKey);
                Passphrases.wipe(volumeKey);
            }
            FormatOptions chosen = options;
            Passphrases.using(key.read("Enter passphrase for " + device.device + ": ", true), passphrase -> {
                try (Progress progress = Progress.start("Formatting " + device.device + " (PBKDF benchmark)", -1)) {
                    Luks.format(device.luks(), chosen, passphrase);
                }
            });
            return 0;
        }
    }

    @Command(name = "open", description = {"Unlocks a keyslot and has the daemon create the mapping NAME with",
            "the crypt table cryptsetup would load (uuid CRYPT-LUKS<n>-<uuid>-NAME)."})
    static final class Open extends LocalCommand {
        @Mixin
        Device device;
        @Parameters(index = "1", paramLabel = "NAME", description = "The mapping to create.")
        String name;
        @ArgGroup(exclusive = false)
        KeyFile key = new KeyFile();
        @Option(names = {"-S", "--key-slot"}, paramLabel = "N", description = "Only try this slot.")
        int keySlot = -1;
        @Option(names = "--allow-discards", description = "Pass discards to the device.")
        boolean allowDiscards;
        @Option(names = "--perf-same_cpu_crypt", description = "dm-crypt same_cpu_crypt.")
        boolean sameCpu;
        @Option(names = "--perf-submit_from_crypt_cpus", description = "dm-crypt submit_from_crypt_cpus.")
        boolean submitFromCryptCpus;
        @Option(names = "--perf-no_read_workqueue", description = "dm-crypt no_read_workqueue.")
        boolean noReadWorkqueue;
        @Option(names = "--perf-no_write_workqueue", description = "dm-crypt no_write_workqueue.")
        boolean noWriteWorkqueue;
        @Option(names = {"-r", "--readonly"}, description = "A read-only mapping.")
        boolean readOnly;

        @Override
        int run() throws IOException, Action.Failed {
            OpenOptions options = OpenOptions.defaults().withKeySlot(keySlot);
            if (allowDiscards) {
                options = options.withFeature("allow-discards");
            }
            if (sameCpu) {
                options = options.withFeature("same-cpu-crypt");
            }
            if (submitFromCryptCpus) {
                options = options.withFeature("submit-from-crypt-cpus");
            }
            if (noReadWorkqueue) {
                options = options.withFeature("no-read-workqueue");
            }
            if (noWriteWorkqueue) {
                options = options.withFeature("no-write-workqueue");
            }
            OpenOptions chosen = options;
            Passphrases.using(key.read("Enter passphrase for " + device.device + ": ", false), passphrase -> {
                try (Unlocked unlocked = Luks.open(device.luks(), chosen, passphrase)) {
                    // transient: the table holds the volume key, which must not land in the daemon's state folder.
                    daemon(ControlClient.request("create").put("name", name).put("uuid", unlocked.dmUuid(name))
                            .put("table", unlocked.tableLine()).put("readOnly", readOnly).put("transient", true), "luks open " + name);
                }
            });
            return 0;
        }
    }

    @Command(name = "dump", description = "Prints the header exactly as cryptsetup luksDump does.")
    static final class Dump extends LocalCommand {
        @Mixin
        Device device;
        @Option(names = {"--dump-json-metadata", "--json"}, description = "LUKS2: the JSON metadata (as cryptsetup prints it).")
        boolean json;
        @Option(names = "--dump-volume-key", description = "Ask for a passphrase and print the volume key.")
        boolean volumeKey;
        @ArgGroup(exclusive = false)
        KeyFile key = new KeyFile();

        @Override
        int run() throws IOException {
            if (volumeKey) {
                Passphrases.using(key.read("Enter passphrase for " + device.device + ": ", false),
                        passphrase -> out().print(Luks.dumpVolumeKey(device.luks(), passphrase)));
            } else {
                out().print(json ? Luks.dumpJson(device.luks()) : Luks.dump(device.luks()));
            }
            return 0;
        }
    }

    /** The new passphrase of add-key and change-key: --new-keyfile, else a prompt or the next line of stdin. */
    static final class NewKey {
        @Option(names = "--new-keyfile", paramLabel = "FILE", description = "Read the new passphrase from FILE.")
        Path keyFile;
        @Option(names = "--new-keyfile-offset", paramLabel = "BYTES", description = "Skip this many bytes of the new key file.")
        long offset;
        @Option(names = "--new-keyfile-size", paramLabel = "BYTES", description = "Read exactly this many bytes of the new key file.")
        long size;

        byte[] read() throws IOException {
            return Passphrases.read(keyFile, offset, size, "Enter new passphrase for key slot: ", true);
        }
    }

    @Command(name = "add-key", description = {"Adds a keyslot for a new passphrase after unlocking with an existing one",
            "(first the existing passphrase, then the new one)."})
    static final class AddKey extends LocalCommand {
        @Mixin
        Device device;
        @ArgGroup(exclusive = false)
        KeyFile key = new KeyFile();
        @ArgGroup(exclusive = false)
        NewKey newKey = new NewKey();
        @Mixin
        Kdf kdf;
        @Option(names = {"-S", "--key-slot"}, paramLabel = "N", description = "Slot for the new passphrase (default: first free).")
        int keySlot = -1;
        @Option(names = "--volume-key-file", paramLabel = "FILE", description = "Unlock with the volume key instead of a passphrase.")
        Path volumeKeyFile;

        @Override
        int run() throws IOException {
            LuksDevice luks = device.luks();
            KdfOptions slotKdf = kdf.optionsFor(luks);
            byte[] existing = volumeKeyFile != null ? Files.readAllBytes(volumeKeyFile)
                    : key.read("Enter any existing passphrase: ", false);
            Passphrases.using(existing, unlocking -> Passphrases.using(newKey.read(), fresh -> {
                int slot = volumeKeyFile != null ? Luks.addKeyWithVolumeKey(luks, unlocking, fresh, keySlot, slotKdf)
                        : Luks.addKey(luks, unlocking, fresh, keySlot, slotKdf);
                out().println("Key slot " + slot + " created.");
            }));
            return 0;
        }
    }

    @Command(name = "remove-key", description = "Destroys the keyslot the passphrase opens (the last one makes the data unreadable).")
    static final class RemoveKey extends LocalCommand {
        @Mixin
        Device device;
        @ArgGroup(exclusive = false)
        KeyFile key = new KeyFile();

        @Override
        int run() throws IOException {
            Passphrases.using(key.read("Enter passphrase to be deleted: ", false),
                    passphrase -> out().println("Key slot " + Luks.removeKey(device.luks(), passphrase) + " removed."));
            return 0;
        }
    }

    @Command(name = "change-key", description = "Replaces the passphrase of the keyslot the old passphrase opens.")
    static final class ChangeKey extends LocalCommand {
        @Mixin
        Device device;
        @ArgGroup(exclusive = false)
        KeyFile key = new KeyFile();
        @ArgGroup(exclusive = false)
        NewKey newKey = new NewKey();
        @Mixin
        Kdf kdf;
        @Option(names = {"-S", "--key-slot"}, paramLabel = "N", description = "Only this slot.")
        int keySlot = -1;

        @Override
        int run() throws IOException {
            LuksDevice luks = device.luks();
            KdfOptions slotKdf = kdf.optionsFor(luks);
            Passphrases.using(key.read("Enter passphrase to be changed: ", false), old -> Passphrases.using(newKey.read(),
                    fresh -> out().println("Key slot " + Luks.changeKey(luks, old, fresh, keySlot, slotKdf) + " changed.")));
            return 0;
        }
    }

    @Command(name = "test-passphrase", description = "Checks a passphrase without opening anything; prints the slot it opens.")
    static final class TestPassphrase extends LocalCommand {
        @Mixin
        Device device;
        @ArgGroup(exclusive = false)
        KeyFile key = new KeyFile();
        @Option(names = {"-S", "--key-slot"}, paramLabel = "N", description = "Only try this slot.")
        int keySlot = -1;

        @Override
        int run() throws IOException {
            Passphrases.using(key.read("Enter passphrase for " + device.device + ": ", false),
                    passphrase -> out().println("Key slot " + Luks.testPassphrase(device.luks(), passphrase, keySlot) + " unlocked."));
            return 0;
        }
    }
}
