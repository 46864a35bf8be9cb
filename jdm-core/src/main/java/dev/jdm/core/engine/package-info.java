/**
 * The engine: device-mapper's core (dm.c, dm-table.c, dm-ioctl.c) as a library.
 *
 * <h2>The parts</h2>
 * <ul>
 *   <li>{@link dev.jdm.core.engine.DeviceMapper} is the control surface: the dm ioctls (create, load,
 *       clear, suspend, resume, remove, rename, info, deps, status, table, message, wait, targets) over
 *       a registry of devices by name, uuid and minor. Each operation either succeeds or throws
 *       {@link dev.jdm.core.DmException} and changes nothing; listeners hear of every change. The
 *       daemon puts a socket in front of it, the CLI and the tests call it directly.</li>
 *   <li>{@link dev.jdm.core.engine.MappedDevice} is one device: a name, a live and an inactive table,
 *       an {@code IoGate}, an event counter and its openers. It is itself a
 *       {@link dev.jdm.core.io.BlockDevice}, so it can be exported over NBD or named as the backing
 *       device of another table.</li>
 *   <li>{@link dev.jdm.core.engine.Table} is a constructed table: its lines parsed by
 *       {@link dev.jdm.core.engine.TableParser}, checked (no gaps, no overlaps, what the types'
 *       features forbid: a singleton beside others, an immutable type mixed with others), each
 *       line's target built by its
 *       {@link dev.jdm.core.spi.TargetType} (found through {@link dev.jdm.core.engine.TargetTypes}),
 *       and the backing devices they opened. Immutable once built; destroying it closes its
 *       targets and releases its devices.</li>
 *   <li>{@code IoGate} admits I/O and drains it on suspend: a striped in-flight count, so the I/O path
 *       costs one increment and one volatile read while the device runs.</li>
 * </ul>
 *
 * <h2>How one I/O travels</h2>
 * A read or write on a mapped device passes the gate (waiting while the device is suspended), takes
 * the live table as it is at that moment, refuses ranges past its end (and writes to a read-only
 * table), then splits at target boundaries: each piece goes to its target with the offset counted
 * in bytes from the target's start. A remap target moves the bytes to its backing device itself
 * ({@link dev.jdm.core.spi.RemapTarget}); a transforming target (crypt, integrity, thin, verity)
 * does its own work. No queue and no thread hop on the way: the caller's thread runs the whole I/O,
 * and leaves the gate when it returns.
 *
 * <h2>The control model</h2>
 * As in the kernel: {@code load} builds a table into the inactive slot while the live one keeps
 * serving; {@code resume} calls {@code preresume} on the table about to go live (it may refuse,
 * crypt without a key does), suspends the device if it runs, swaps the tables, destroys the old
 * one, calls {@code resume} on the new one's targets and opens the gate. {@code suspend} calls
 * {@code presuspend}, drains the in-flight I/O, then {@code postsuspend}. One device's control
 * operations are serialised; I/O never takes their lock.
 */
package dev.jdm.core.engine;
