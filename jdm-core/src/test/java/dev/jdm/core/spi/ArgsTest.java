package dev.jdm.core.spi;

import dev.jdm.core.Sectors;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.OptionalLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

class ArgsTest {

    private static Args args(String... words) {
        return new Args(List.of(words));
    }

    private static OptionalLong some(long v) {
        return OptionalLong.of(v);
    }

    private static final OptionalLong NONE = OptionalLong.empty();

    @Test
    void scanfU64TakesDigitsAfterLeadingSpaceAndNothingElse() {
        Args.Rule r = Args.Rule.SCANF_U64;
        assertEquals(some(0), r.parse("0"));
        assertEquals(some(42), r.parse("042"));
        assertEquals(some(7), r.parse(" \t7"), "vsscanf skips white space before a number");
        assertEquals(some(-1L), r.parse("18446744073709551615"));
        assertEquals(some(0), r.parse("18446744073709551616"), "vsscanf does not check overflow: the value wraps");
        assertEquals(NONE, r.parse(""));
        assertEquals(NONE, r.parse(" "));
        assertEquals(NONE, r.parse("+1"), "%llu takes no sign");
        assertEquals(NONE, r.parse("-1"));
        assertEquals(NONE, r.parse("1 "), "%c matches the trailing space: two conversions");
        assertEquals(NONE, r.parse("1\n"));
        assertEquals(NONE, r.parse("1x"));
        assertEquals(NONE, r.parse("0x10"));
    }

    @Test
    void scanfU32KeepsTheLow32Bits() {
        Args.Rule r = Args.Rule.SCANF_U32;
        assertEquals(some(4294967295L), r.parse("4294967295"));
        assertEquals(some(0), r.parse("4294967296"));
        assertEquals(some(5), r.parse("4294967301"));
        assertEquals(NONE, r.parse("+5"));
    }

    @Test
    void kstrtoullTakesAPlusAndOneNewlineAndRefusesOverflow() {
        Args.Rule r = Args.Rule.KSTRTOULL;
        assertEquals(some(12), r.parse("12"));
        assertEquals(some(12), r.parse("+12"));
        assertEquals(some(12), r.parse("12\n"));
        assertEquals(some(12), r.parse("+12\n"));
        assertEquals(some(-1L), r.parse("18446744073709551615"));
        assertEquals(NONE, r.parse("18446744073709551616"));
        assertEquals(NONE, r.parse("99999999999999999999"));
        assertEquals(NONE, r.parse(""));
        assertEquals(NONE, r.parse("+"));
        assertEquals(NONE, r.parse("\n"));
        assertEquals(NONE, r.parse("12\n\n"));
        assertEquals(NONE, r.parse(" 12"), "kstrto* skips no white space");
        assertEquals(NONE, r.parse("++12"));
        assertEquals(NONE, r.parse("-0"));
        assertEquals(NONE, r.parse("0x1"));
    }

    @Test
    void kstrtouintRefusesWhatDoesNotFit32Bits() {
        Args.Rule r = Args.Rule.KSTRTOUINT;
        assertEquals(some(4294967295L), r.parse("4294967295"));
        assertEquals(some(1), r.parse("+1\n"));
        assertEquals(NONE, r.parse("4294967296"));
    }

    @Test
    void indexedNumbersNameTheArgument() {
        Args a = args("dev", "x1", "9223372036854775808");
        assertEquals("argument 2 (\"x1\"): invalid offset", assertThrows(TargetException.class, () -> a.u64(1, "offset")).getMessage());
        assertEquals("argument 3 (\"9223372036854775808\"): offset out of range (0..9223372036854775807)",
                assertThrows(TargetException.class, () -> a.u64(2, "offset")).getMessage());
        assertEquals("argument 4 is missing: offset", assertThrows(TargetException.class, () -> a.u64(3, "offset")).getMessage());
        assertEquals("argument 2 (\"7\"): size out of range (8..4294967295)",
                assertThrows(TargetException.class, () -> args("a", "7").number(1, "size", 8, 0xffff_ffffL)).getMessage());
    }

    @Test
    void shiftWalksTheLineAndNamesWhatIsMissing() throws TargetException {
        Args a = args("dev", "8");
        assertEquals(2, a.remaining());
        assertEquals("dev", a.peek());
        Args.Arg dev = a.next("device");
        assertEquals(new Args.Arg(a, 0, "dev"), dev);
        assertEquals(8, a.shiftNumber(Args.Rule.SCANF_U64, "offset"));
        assertFalse(a.hasMore());
        assertNull(a.peek());
        assertNull(a.shiftOrNull());
        assertEquals("argument 3 is missing: chunk size", assertThrows(TargetException.class, () -> a.shift("chunk size")).getMessage());
        assertEquals("argument 3 is missing: chunk size",
                assertThrows(TargetException.class, () -> a.shiftNumber(Args.Rule.KSTRTOUINT, "chunk size")).getMessage());
        assertEquals("argument 1 (\"dev\"): no such device", dev.error("no such device").getMessage());
        assertEquals("argument 2 (\"8\"): odd", a.error("odd").getMessage(), "error() names the argument last shifted");
    }

    @Test
    void shiftNumberChecksTheRuleThenTheRange() throws TargetException {
        Args a = args("+5", "5", "300", "1");
        assertEquals("argument 1 (\"+5\"): invalid count",
                assertThrows(TargetException.class, () -> a.shiftNumber(Args.Rule.SCANF_U64, "count")).getMessage());
        assertEquals(5, a.shiftNumber(Args.Rule.KSTRTOUINT, "count", 0, 10));
        assertEquals("argument 3 (\"300\"): value out of range (0..255)",
                assertThrows(TargetException.class, () -> a.shiftNumber(Args.Rule.SCANF_U64, "value", 0, 255)).getMessage());
        assertEquals(1, a.shiftNumber(Args.Rule.SCANF_U64, "value", 1, -1L), "max -1 is 2^64 - 1, compared unsigned");
    }

    @Test
    void shiftSectorsStopsWhereBytesWouldOverflow() throws TargetException {
        String max = Long.toString(Sectors.MAX_SECTORS);
        Args a = args(max, Long.toString(Sectors.MAX_SECTORS + 1));
        assertEquals(Sectors.MAX_SECTORS, a.shiftSectors("device sector"));
        assertEquals("argument 2 (\"18014398509481984\"): device sector out of range (0.." + max + ")",
                assertThrows(TargetException.class, () -> a.shiftSectors("device sector")).getMessage());
    }

    @Test
    void readIsDmReadArgWithTheRangesOwnError() throws TargetException {
        Args.Range range = new Args.Range(1, 4, "Invalid number of stripes");
        assertEquals(4, args("4").read(range));
        for (String bad : new String[] {"0", "5", "x", "+2", "-1", "4294967297x"}) {
            assertEquals("argument 1 (\"" + bad + "\"): Invalid number of stripes",
                    assertThrows(TargetException.class, () -> args(bad).read(range)).getMessage());
        }
        assertEquals(1, args("4294967297").read(range), "%u keeps the low 32 bits, as the kernel's dm_read_arg does");
        assertEquals("argument 1 is missing: Invalid number of stripes",
                assertThrows(TargetException.class, () -> args().read(range)).getMessage());
    }

    @Test
    void groupIsDmReadArgGroupAndKeepsTheLineNumbering() throws TargetException {
        Args.Range features = new Args.Range(0, 4, "Invalid number of pool feature arguments");
        Args a = args("meta", "2", "Skip_Block_Zeroing", "bogus", "after");
        a.shift("metadata device");
        Args g = a.group(features);
        assertEquals(2, g.remaining());
        assertEquals("after", a.peek(), "the line's cursor moved past the group");
        assertEquals("skip_block_zeroing", g.shiftWord("feature"));
        assertEquals("bogus", g.shiftWord("feature"));
        assertEquals("argument 4 (\"bogus\"): Unrecognised pool feature requested", g.error("Unrecognised pool feature requested").getMessage());
        assertEquals("argument 5 is missing: feature", assertThrows(TargetException.class, () -> g.shift("feature")).getMessage(),
                "the group's end is its own: the argument after it is not part of it");
        assertEquals("argument 2 (\"3\"): Invalid number of pool feature arguments",
                groupError(args("meta", "3", "a", "b"), features), "a count larger than what follows");
        assertEquals("argument 2 (\"5\"): Invalid number of pool feature arguments",
                groupError(args("meta", "5", "a", "b", "c", "d", "e"), features));
        assertEquals("argument 2 (\"x\"): Invalid number of pool feature arguments", groupError(args("meta", "x"), features));
    }

    private static String groupError(Args a, Args.Range range) throws TargetException {
        a.shift("first");
        return assertThrows(TargetException.class, () -> a.group(range)).getMessage();
    }

    @Test
    void optionalGroupIsEmptyAtTheEnd() throws TargetException {
        Args a = args("dev");
        a.shift("device");
        Args g = a.optionalGroup(new Args.Range(0, 4, "Invalid number of feature args"));
        assertEquals(0, g.remaining());
        assertEquals(0, args("dev", "0").take(2).take(0).remaining());
    }

    @Test
    void takeRefusesMoreThanIsLeft() {
        Args a = args("1", "2");
        assertThrows(IllegalArgumentException.class, () -> a.take(3));
        assertThrows(IllegalArgumentException.class, () -> a.take(-1));
    }

    @Test
    void shiftWordLowerCasesAsciiOnly() throws TargetException {
        Args a = args("ALLOW_Discards", "Ä_X");
        assertEquals("allow_discards", a.shiftWord("feature"));
        assertEquals("Ä_x", a.shiftWord("feature"));
        assertEquals("argument 2 (\"Ä_X\"): unknown", a.error("unknown").getMessage(), "errors show the word as given");
    }

    @Test
    void shiftOptionSplitsAtTheFirstColon() throws TargetException {
        Args a = args("internal_hash:hmac(sha256):00ff", "recalculate", "meta_device:");
        assertEquals(new Args.Option("internal_hash", "hmac(sha256):00ff"), a.shiftOption("option"));
        assertEquals(new Args.Option("recalculate", null), a.shiftOption("option"));
        assertEquals(new Args.Option("meta_device", ""), a.shiftOption("option"));
    }

    @Test
    void requireEndNamesTheFirstExtraArgumentAndIgnoreRestSkipsThem() throws TargetException {
        Args a = args("dev", "0", "extra", "more");
        a.take(2);
        assertEquals("argument 3 (\"extra\"): too many arguments",
                assertThrows(TargetException.class, () -> a.requireEnd("too many arguments")).getMessage());
        a.ignoreRest();
        assertFalse(a.hasMore());
        a.requireEnd("too many arguments");
        Args whole = args("dev");
        whole.shift("device");
        whole.requireEnd("too many arguments");
        assertEquals(0, whole.remaining());
    }
}
