package dev.jdm.formats.luks;

import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;

/**
 * The dm-crypt table line cryptsetup loads for an opened LUKS volume:
 * {@code 0 <sectors> crypt <cipher> <hexkey> <iv_offset> <dev> <offset> [<n> <features>]}.
 * The IV offset is the LUKS2 segment's iv_tweak (0 for what cryptsetup formats, always 0 for LUKS1); with
 * 4096-byte sectors the IV still counts 512-byte sectors (cryptsetup sets no iv_large_sectors).
 */
final class CryptTableLine {

    private CryptTableLine() {
    }

    static String format(long sectors, CipherSpec cipher, byte[] key, long ivOffset, String device, long offsetSectors,
                         int sectorSize, Set<String> features) {
        List<String> options = new ArrayList<>();
        for (String feature : OpenOptions.FEATURE_ORDER) {
            if (features.contains(feature)) {
                options.add(feature.replace('-', '_'));
            }
        }
        if (sectorSize != 512) {
            options.add("sector_size:" + sectorSize);
        }
        StringBuilder line = new StringBuilder()
                .append("0 ").append(sectors).append(" crypt ").append(cipher).append(' ')
                .append(HexFormat.of().formatHex(key)).append(' ').append(ivOffset).append(' ').append(device).append(' ').append(offsetSectors);
        if (!options.isEmpty()) {
            line.append(' ').append(options.size()).append(' ').append(String.join(" ", options));
        }
        return line.toString();
    }
}
