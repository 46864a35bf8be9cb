package dev.jdm.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** multipath -ll's layout from the daemon's topology, without a daemon. */
class MultipathFormatTest {

    @Test
    void sizesAsMultipathPrintsThem() {
        assertEquals("1.0G", MultipathCommand.size(2L << 20));
        assertEquals("20G", MultipathCommand.size(40L << 20));
        assertEquals("512K", MultipathCommand.size(1024));
        assertEquals("0.0K", MultipathCommand.size(1)); // multipath shifts sectors to KiB first
        assertEquals("9.5M", MultipathCommand.size(19456));
        assertEquals("10M", MultipathCommand.size(20480 + 1024)); // 10.5 rounds half to even, as glibc
        assertEquals("1.5T", MultipathCommand.size(3L << 30));
        assertEquals("2097152P", MultipathCommand.size(1L << 62)); // P is the last unit
    }

    @Test
    void treeOfGroupsAndPathsWithAlignedColumns() throws Exception {
        String maps = """
                [{"name":"mpatha","uuid":"mpath-3600a","minor":4,"sizeSectors":2097152,"readOnly":false,
                  "features":"1 queue_if_no_path","hwHandler":"0","groups":[
                   {"policy":"service-time 0","prio":2,"status":"active","paths":[
                     {"device":"nbd://10.0.0.2/disk","dmState":"active","checker":"ready","online":"running"},
                     {"device":"nbd://10.0.0.3/disk","dmState":"failed","checker":"i/o timeout","online":"running"}]},
                   {"policy":"round-robin 0","prio":1,"status":"enabled","paths":[
                     {"device":"/dev/mapper/p3","dmState":"active","checker":"ready","online":"running"}]}]},
                 {"name":"mpathb","uuid":"","minor":7,"sizeSectors":8,"readOnly":true,
                  "features":"0","hwHandler":"0","groups":[
                   {"policy":"queue-length 0","prio":1,"status":"enabled","paths":[
                     {"device":"/tmp/a.img","dmState":"failed","checker":"faulty","online":"offline"},
                     {"device":"/tmp/b.img","dmState":"active","checker":"undef","online":"unknown"}]}]}]
                """;
        assertEquals(List.of(
                "mpatha (mpath-3600a) dm-4 jdm,multipath",
                "size=1.0G features='1 queue_if_no_path' hwhandler='0' wp=rw",
                "|-+- policy='service-time 0' prio=2 status=active",
                "| |- nbd://10.0.0.2/disk active ready       running",
                "| `- nbd://10.0.0.3/disk failed i/o timeout running",
                "`-+- policy='round-robin 0' prio=1 status=enabled",
                "  `- /dev/mapper/p3      active ready       running",
                "mpathb dm-7 jdm,multipath",
                "size=4.0K features='0' hwhandler='0' wp=ro",
                "`-+- policy='queue-length 0' prio=1 status=enabled",
                "  |- /tmp/a.img          failed faulty      offline",
                "  `- /tmp/b.img          active undef       unknown"), MultipathCommand.render(new ObjectMapper().readTree(maps)));
    }
}
