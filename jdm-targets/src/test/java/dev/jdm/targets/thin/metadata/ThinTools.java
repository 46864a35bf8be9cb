package dev.jdm.targets.thin.metadata;

import dev.jdm.pdata.PdataTools;
import dev.jdm.pdata.PdataTools.Result;
import org.w3c.dom.Element;
import org.w3c.dom.Node;

import javax.xml.parsers.DocumentBuilderFactory;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Runs thin_check, thin_dump and thin_restore ({@link PdataTools}) and parses thin_dump's XML into a comparable
 * model. Public in the test-jar: jdm-daemon's thin crash test drives the same tools.
 */
public final class ThinTools {
    /** One device as thin_dump prints it, mappings expanded to single blocks. */
    public record Device(long id, long mappedBlocks, long transaction, int creationTime, int snapTime,
                  TreeMap<Long, ThinMetadata.Mapping> mappings) {
    }

    public record Dump(long transaction, int time, int dataBlockSize, long nrDataBlocks, TreeMap<Long, Device> devices) {
    }

    private ThinTools() {
    }

    public static Result check(Path metadata) throws IOException, InterruptedException {
        return PdataTools.run("thin_check", metadata.toString());
    }

    public static void restore(Path xml, Path metadata) throws IOException, InterruptedException {
        Result r = PdataTools.run("thin_restore", "-i", xml.toString(), "-o", metadata.toString());
        if (r.exit() != 0) {
            throw new AssertionError("thin_restore failed: " + r.stderr() + r.stdout());
        }
    }

    public static Dump dump(Path metadata) throws Exception {
        Result r = PdataTools.run("thin_dump", metadata.toString());
        if (r.exit() != 0) {
            throw new AssertionError("thin_dump failed: " + r.stderr());
        }
        return parse(r.stdout());
    }

    public static Dump parse(String xml) throws Exception {
        Element sb = DocumentBuilderFactory.newInstance().newDocumentBuilder()
                .parse(new ByteArrayInputStream(xml.getBytes(StandardCharsets.UTF_8))).getDocumentElement();
        TreeMap<Long, Device> devices = new TreeMap<>();
        for (Node n = sb.getFirstChild(); n != null; n = n.getNextSibling()) {
            if (!(n instanceof Element dev) || !dev.getTagName().equals("device")) {
                continue;
            }
            TreeMap<Long, ThinMetadata.Mapping> maps = new TreeMap<>();
            for (Node m = dev.getFirstChild(); m != null; m = m.getNextSibling()) {
                if (!(m instanceof Element e)) {
                    continue;
                }
                int time = Integer.parseInt(e.getAttribute("time"));
                if (e.getTagName().equals("single_mapping")) {
                    maps.put(num(e, "origin_block"), new ThinMetadata.Mapping(num(e, "data_block"), time));
                } else if (e.getTagName().equals("range_mapping")) {
                    long o = num(e, "origin_begin");
                    long d = num(e, "data_begin");
                    for (long i = 0; i < num(e, "length"); i++) {
                        maps.put(o + i, new ThinMetadata.Mapping(d + i, time));
                    }
                } else {
                    throw new AssertionError("unexpected element " + e.getTagName());
                }
            }
            long id = num(dev, "dev_id");
            devices.put(id, new Device(id, num(dev, "mapped_blocks"), num(dev, "transaction"),
                    (int) num(dev, "creation_time"), (int) num(dev, "snap_time"), maps));
        }
        return new Dump(num(sb, "transaction"), (int) num(sb, "time"), (int) num(sb, "data_block_size"),
                num(sb, "nr_data_blocks"), devices);
    }

    private static long num(Element e, String attr) {
        return Long.parseLong(e.getAttribute(attr));
    }

    /** XML thin_restore 0.9.0 accepts: every mapping spelled out, runs of consecutive blocks as ranges. */
    public static String toXml(Dump dump) {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format("<superblock uuid=\"\" time=\"%d\" transaction=\"%d\" data_block_size=\"%d\" nr_data_blocks=\"%d\">%n",
                dump.time(), dump.transaction(), dump.dataBlockSize(), dump.nrDataBlocks()));
        for (Device d : dump.devices().values()) {
            sb.append(String.format("  <device dev_id=\"%d\" mapped_blocks=\"%d\" transaction=\"%d\" creation_time=\"%d\" snap_time=\"%d\">%n",
                    d.id(), d.mappings().size(), d.transaction(), d.creationTime(), d.snapTime()));
            List<Map.Entry<Long, ThinMetadata.Mapping>> list = new ArrayList<>(d.mappings().entrySet());
            for (int i = 0; i < list.size(); ) {
                int j = i + 1;
                while (j < list.size() && list.get(j).getKey() == list.get(j - 1).getKey() + 1
                        && list.get(j).getValue().dataBlock() == list.get(j - 1).getValue().dataBlock() + 1
                        && list.get(j).getValue().time() == list.get(i).getValue().time()) {
                    j++;
                }
                var first = list.get(i);
                if (j - i == 1) {
                    sb.append(String.format("    <single_mapping origin_block=\"%d\" data_block=\"%d\" time=\"%d\"/>%n",
                            first.getKey(), first.getValue().dataBlock(), first.getValue().time()));
                } else {
                    sb.append(String.format("    <range_mapping origin_begin=\"%d\" data_begin=\"%d\" length=\"%d\" time=\"%d\"/>%n",
                            first.getKey(), first.getValue().dataBlock(), j - i, first.getValue().time()));
                }
                i = j;
            }
            sb.append("  </device>\n");
        }
        sb.append("</superblock>\n");
        return sb.toString();
    }
}
