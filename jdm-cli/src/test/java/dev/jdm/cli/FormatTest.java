package dev.jdm.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** dmsetup's output formats and name mangling, without a daemon. */
class FormatTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private static String printed(Consumer<PrintWriter> print) {
        StringWriter s = new StringWriter();
        try (PrintWriter w = new PrintWriter(s)) {
            print.accept(w);
        }
        return s.toString();
    }

    private static JsonNode device(String name, int minor, String uuid, String depsJson) throws Exception {
        return JSON.readTree("{\"name\":\"" + name + "\",\"uuid\":\"" + uuid + "\",\"major\":253,\"minor\":" + minor
                + ",\"suspended\":false,\"readOnly\":" + (minor == 2) + ",\"liveTable\":true,\"inactiveTable\":false,"
                + "\"openCount\":" + minor + ",\"eventNumber\":12345678,\"targetCount\":1,\"readAhead\":256,\"deps\":" + depsJson + "}");
    }

    @Test
    void manglingFollowsLibdm() throws Exception {
        assertEquals("disk0", NameMangling.AUTO.mangle("disk0", "name"));
        assertEquals("a\\x20b\\x2fc", NameMangling.AUTO.mangle("a b/c", "name"));
        assertEquals("a\\x20b", NameMangling.AUTO.mangle("a\\x20b", "name"), "auto keeps a mangled name");
        assertEquals("a\\x5cx20b", NameMangling.HEX.mangle("a\\x20b", "name"), "hex mangles the backslash too");
        assertEquals("a b", NameMangling.NONE.mangle("a b", "name"));
        assertEquals("caf\\xc3\\xa9", NameMangling.AUTO.mangle("caf\u00e9", "name"), "bytes of UTF-8, one by one");
        assertEquals("a b", NameMangling.unmangle("a\\x20b"));
        NameMangling.MangleException e = assertThrows(NameMangling.MangleException.class, () -> NameMangling.AUTO.mangle("a\\x20b c", "name"));
        assertEquals("The name \"a\\x20b c\" contains mixed mangled and unmangled characters or it's already mangled improperly.", e.getMessage());
    }

    @Test
    void columnsWidenToTheirWidestValue() throws Exception {
        List<JsonNode> devices = List.of(device("a-name-longer-than-sixteen", 0, "", "[]"), device("b", 2, "U", "[]"));
        assertEquals("Name                       Maj Min Stat Open Targ Event    UUID                            \n"
                        + "a-name-longer-than-sixteen 253   0 L--w    0    1 12345678                                 \n"
                        + "b                          253   2 L--r    2    1 12345678 U                               \n",
                printed(w -> InfoReport.of(null, false, null).print(devices, w)));
        assertEquals("b:Writeable\n", printed(w -> InfoReport.of("name,readonly", true, null).print(List.of(devices.getFirst()), w))
                .replace("a-name-longer-than-sixteen", "b"));
        assertEquals("Name,Maj,Tables,Suspended\nb,253,Live,Active\n",
                printed(w -> InfoReport.of("name,major,tables_loaded,suspended", false, ",").print(List.of(devices.get(1)), w)));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> InfoReport.of("name,nope", false, null));
        assertEquals("Unrecognised field: nope", e.getMessage());
    }

    @Test
    void treeDrawsBranchesAndLastChildren() throws Exception {
        List<JsonNode> devices = new ArrayList<>(List.of(
                device("a", 0, "", "[{\"id\":\"253:1\",\"major\":253,\"minor\":1,\"name\":\"b\"},{\"id\":\"253:2\",\"major\":253,\"minor\":2,\"name\":\"c\"}]"),
                device("b", 1, "", "[{\"id\":\"/x.img\",\"path\":\"/x.img\"}]"),
                device("c", 2, "UC", "[{\"id\":\"253:3\",\"major\":253,\"minor\":3,\"name\":\"d\"}]"),
                device("d", 3, "", "[{\"id\":\"7:0\",\"major\":7,\"minor\":0,\"name\":\"loop0\",\"blkdevname\":\"loop0\"}]"),
                device("e", 4, "", "[]")));
        assertEquals("""
                a (253:0)
                 |-b (253:1)
                 |  `- (/x.img)
                 `-c (253:2)
                    `-d (253:3)
                       `- (7:0)
                e (253:4)
                """, printed(w -> DeviceTree.of(null, false).print(devices, w)));
        assertEquals("""
                a <dm-0> [RW, 0]
                 \u251c\u2500b <dm-1> [RW, 1]
                 \u2514\u2500c <dm-2> [RO, 2]
                    \u2514\u2500d <dm-3> [RW, 3]
                       \u2514\u2500 <loop0>
                e <dm-4> [RW, 4]
                """,
                printed(w -> DeviceTree.of("utf,nodevice,blkdevname,rw,open", false).print(devices, w)));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> DeviceTree.of("ascii,bogus", false));
        assertEquals("Tree option not recognised: bogus.", e.getMessage());
    }

    @Test
    void keysAreZeroedUnlessAsked() {
        assertEquals("aes-xts-plain64 0000000000000000 0 /dev/sda 0", KeyHiding.hide("crypt", "aes-xts-plain64 00112233aabbccdd 0 /dev/sda 0"));
        assertEquals("aes-xts-plain64 :64:logon:k 0 /dev/sda 0", KeyHiding.hide("crypt", "aes-xts-plain64 :64:logon:k 0 /dev/sda 0"));
        assertEquals("/dev/sda 0 32 J 1 internal_hash:hmac(sha256):0000", KeyHiding.hide("integrity", "/dev/sda 0 32 J 1 internal_hash:hmac(sha256):abcd"));
        assertEquals("/dev/sda 0 32 J 1 internal_hash:crc32c", KeyHiding.hide("integrity", "/dev/sda 0 32 J 1 internal_hash:crc32c"));
        assertEquals("/dev/sda 0", KeyHiding.hide("linear", "/dev/sda 0"));
    }
}
