/**
 * The target SPI: what a target author implements, and a guide to doing it.
 *
 * <h2>The parts</h2>
 * <ul>
 *   <li>{@link dev.jdm.core.spi.TargetType}: a name, a version and a constructor (the kernel's
 *       {@code struct target_type}), found with {@link java.util.ServiceLoader} through
 *       {@code META-INF/services/dev.jdm.core.spi.TargetType}.</li>
 *   <li>{@link dev.jdm.core.spi.Target}: one constructed table line; its I/O methods may be called
 *       concurrently and never cross the target's end.</li>
 *   <li>{@link dev.jdm.core.spi.TargetContext}: what the constructor may ask of the table being built:
 *       its place and length, {@code device(...)} ({@code dm_get_device}, checking the area lies inside the
 *       device, released by the table), events, and the engine's shared objects.</li>
 *   <li>{@link dev.jdm.core.spi.Args}: the line's arguments as a cursor with the kernel's number rules,
 *       optional groups and errors that name the argument; messages use the same cursor.</li>
 * </ul>
 *
 * <h2>Three ways to write a target</h2>
 * <ol>
 *   <li><b>Only map</b>: extend {@link dev.jdm.core.spi.RemapTarget} and implement {@code map(offset, length)},
 *       where the bytes live and how far that run goes; the base moves the data and cuts the I/O where
 *       the mapping breaks. Linear and striped; the model is dm-linear.c.</li>
 *   <li><b>Pass through with a twist</b>: extend {@link dev.jdm.core.spi.FilterTarget}, give it the device and
 *       offset (a {@code Route}, or one per read/write/flush class) and override one step: before a read
 *       piece (fail, delay), after it (change what was read), before a write piece (fail, drop, write a
 *       changed copy, delay), before a flush, discard or write-zeroes (fail, drop, delay), and
 *       {@code pieceLength} to cut I/O at a block size. Flakey, dust and delay; the tests' CountingTarget
 *       is the whole of an example.</li>
 *   <li><b>Transform</b>: implement {@link dev.jdm.core.spi.Target} itself when the target owns its I/O: it
 *       encrypts (crypt), allocates and keeps metadata (thin-pool, thin), checks (verity, integrity) or
 *       logs (log-writes).</li>
 * </ol>
 *
 * <h2>When the engine calls what</h2>
 * <ul>
 *   <li><b>load</b>: {@code construct} for each line of the new (inactive) table; if one line fails, the
 *       targets already built are closed and the table is not kept.</li>
 *   <li><b>suspend</b>: {@code presuspend(noflush)} on each target of the live table, then the engine
 *       waits for in-flight I/O to drain, then {@code postsuspend}.</li>
 *   <li><b>resume</b>: {@code preresume} on each target of the table about to go live (it may refuse: crypt
 *       without a key); then, if an inactive table is waiting, the device is suspended if it was not, the
 *       tables swap and the old one is destroyed; then {@code resume} on each target, and I/O flows.</li>
 *   <li><b>close</b>: when the table is destroyed (replaced, cleared, the device removed); the table
 *       releases the devices from {@code device(...)} after it.</li>
 * </ul>
 *
 * <h2>Shared libraries</h2>
 * What the kernel's targets share lives in {@code dev.jdm.targets.lib}: a block prison ({@code Prison}), a
 * copier in kcopyd's role ({@code Copier}), a periodic commit worker ({@code PeriodicWork}); objects that
 * tables of several devices must find (thin's pools, later snapshot origins, cache, raid) are per engine,
 * through {@code TargetContext.shared}, never in a static. On-disk metadata is built on {@code jdm-pdata}.
 *
 * <h2>Units and wording</h2>
 * Tables speak 512-byte sectors (the context's begin and length, sector arguments); I/O speaks bytes from
 * the target's start. Convert with {@link dev.jdm.core.Sectors}. An error message gives the kernel's text
 * first and our detail after a colon; the engine puts {@code table line N: <type>: } in front and
 * {@code Args} puts {@code argument i ("value"): }, so a target names neither.
 */
package dev.jdm.core.spi;
