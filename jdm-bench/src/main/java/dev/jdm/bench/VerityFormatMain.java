package dev.jdm.bench;

import dev.jdm.formats.verity.VerityException;
import dev.jdm.formats.verity.VerityOptions;
import dev.jdm.formats.verity.Veritysetup;

import java.nio.file.Path;

/**
 * {@code java -cp jdm-bench.jar dev.jdm.bench.VerityFormatMain [options] <data> <hash>}: {@code jdm verity
 * format} without the CLI, bench/verity.sh's fallback when no CLI jar is built. Takes veritysetup's
 * format options and prints what veritysetup prints.
 */
public final class VerityFormatMain {
    private VerityFormatMain() {
    }

    public static void main(String[] args) throws Exception {
        VerityOptions o = VerityOptions.defaults();
        int i = 0;
        for (; i < args.length && args[i].startsWith("--"); i++) {
            String name = args[i];
            if (name.equals("--no-superblock")) {
                o = o.withNoSuperblock(true);
                continue;
            }
            if (i + 1 >= args.length) {
                usage("option " + name + " needs a value");
            }
            String v = args[++i];
            o = switch (name) {
                case "--hash" -> o.withHash(v);
                case "--data-block-size" -> o.withDataBlockSize(Integer.parseInt(v));
                case "--hash-block-size" -> o.withHashBlockSize(Integer.parseInt(v));
                case "--data-blocks" -> o.withDataBlocks(Long.parseLong(v));
                case "--hash-offset" -> o.withHashOffset(Long.parseLong(v));
                case "--salt" -> o.withSalt(v);
                case "--format" -> o.withFormat(Integer.parseInt(v));
                case "--fec-device" -> o.withFecDevice(Path.of(v));
                case "--fec-roots" -> o.withFecRoots(Integer.parseInt(v));
                case "--fec-offset" -> o.withFecOffset(Long.parseLong(v));
                case "--uuid" -> o.withUuid(v);
                default -> {
                    usage("unknown option " + name);
                    yield o;
                }
            };
        }
        if (args.length - i != 2) {
            usage("expected <data_device> <hash_device>");
        }
        try {
            System.out.print(Veritysetup.format(Path.of(args[i]), Path.of(args[i + 1]), o).report());
        } catch (VerityException e) {
            System.err.println(e.getMessage());
            System.exit(1);
        }
    }

    private static void usage(String why) {
        System.err.println("verity format: " + why);
        System.err.println("usage: VerityFormatMain [--hash H] [--data-block-size N] [--hash-block-size N] [--data-blocks N]"
                + " [--hash-offset N] [--no-superblock] [--salt HEX|-] [--format 0|1] [--fec-device PATH] [--fec-roots N]"
                + " [--fec-offset N] [--uuid UUID] <data_device> <hash_device>");
        System.exit(2);
    }
}
