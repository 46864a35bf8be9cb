package dev.jdm.core.engine;

import dev.jdm.core.DmException;
import dev.jdm.core.Errno;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** A message as one string is split as the kernel's dm_split_args splits what dmsetup sends. */
class MessageSplitTest {

    @Test
    void wordsSplitOnWhiteSpaceWithBackslashEscapes() {
        assertEquals(List.of("create_thin", "0"), TableParser.splitArgs("create_thin 0"));
        assertEquals(List.of("create_thin", "0"), TableParser.splitArgs("  create_thin\t 0 \n"));
        assertEquals(List.of("mark", "two words"), TableParser.splitArgs("mark two\\ words"));
        assertEquals(List.of("a\\b"), TableParser.splitArgs("a\\\\b"));
        assertEquals(List.of("ab"), TableParser.splitArgs("\\a\\b"));
        // A lone backslash at the very end escapes nothing and stays, as in the kernel.
        assertEquals(List.of("end\\"), TableParser.splitArgs("end\\"));
        assertEquals(List.of(), TableParser.splitArgs(" \t "));
    }

    @Test
    void aTableLineStillRefusesALoneTrailingBackslashButTakesAnEscapedOne() throws DmException {
        DmException e = assertThrows(DmException.class, () -> TableParser.parse("0 8 zero x\\"));
        assertEquals("table line 1: backslash at the end of the line", e.getMessage());
        assertEquals(List.of("x\\"), TableParser.parse("0 8 zero x\\\\").getFirst().args());
    }

    @Test
    void theEngineSplitsAOneStringMessageBeforeTheTargetSeesIt() throws DmException {
        DeviceMapper dm = TestTargets.engine(TestTargets.type("echo", (ctx, args) -> new TestTargets.Fixed(false) {
            @Override
            public String message(dev.jdm.core.spi.Args argv) {
                StringBuilder sb = new StringBuilder();
                for (int i = 0; i < argv.count(); i++) {
                    sb.append('[').append(argv.get(i)).append(']');
                }
                return sb.toString();
            }
        }));
        try (dm) {
            dm.create("d", null, "0 8 echo", false);
            assertEquals("[create_thin][0]", dm.message("d", 0, "create_thin 0"));
            assertEquals("[mark][two words]", dm.message("d", 0, "mark two\\ words"));
            assertEquals(Errno.EINVAL, assertThrows(DmException.class, () -> dm.message("d", 0, "  ")).errno());
        }
    }
}
