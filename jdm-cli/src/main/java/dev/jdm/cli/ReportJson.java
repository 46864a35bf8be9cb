package dev.jdm.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jdm.daemon.Protocol;

import java.util.regex.Pattern;

/** The {@code --json} form of a tool's "field separator value" report (veritysetup dump, integritysetup dump). */
final class ReportJson {
    private ReportJson() {
    }

    /** One string member per line that has the separator; other lines (titles) are left out. */
    static String of(String report, String separatorRegex) {
        Pattern separator = Pattern.compile(separatorRegex);
        ObjectNode o = Protocol.JSON.createObjectNode();
        for (String line : report.split("\n")) {
            String[] kv = separator.split(line, 2);
            if (kv.length == 2 && !kv[0].isBlank()) {
                o.put(kv[0].strip(), kv[1].strip());
            }
        }
        return o.toPrettyString();
    }
}
