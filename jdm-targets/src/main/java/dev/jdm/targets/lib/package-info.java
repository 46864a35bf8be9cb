/**
 * Libraries targets share, as the kernel's targets share dm-bio-prison, dm-kcopyd, their commit workers and the
 * module tables that let one table find another's object. A new target takes them from here instead of
 * copying thin's insides.
 *
 * <ul>
 *   <li>{@link dev.jdm.targets.lib.Prison}: per-block cells (bio prison v2): shared for I/O that leaves a
 *       block's mapping alone, exclusive for I/O that changes it, optimistic reads for the hot path. Thin holds
 *       one per pool; snapshot, cache and clone would hold one per origin or cache.</li>
 *   <li>{@link dev.jdm.targets.lib.Copier}: kcopyd. A range from a device, or zeroes, to one or more
 *       destinations in bounded chunks, with the caller's write overlaid, a bound on chunks in flight, and
 *       futures completed in submission order when asked. Thin fills new blocks with it (zeroing,
 *       copy-on-write, external origin); snapshot's exceptions, cache's migrations, mirror's resync and raid's
 *       rebuild are its other callers in the kernel.</li>
 *   <li>{@link dev.jdm.targets.lib.PeriodicWork}: work every period, once a period after it is asked for, or
 *       at once; stopped on suspend, closed with the target (thin's commit every second, integrity's
 *       autocommit and bitmap flush).</li>
 *   <li>{@link dev.jdm.targets.lib.SharedRegistry}: objects several tables hold, counted and found by what
 *       they are built on (thin's pools by pool or metadata device, as __pool_find; snapshot's origins by
 *       device). Keep it per engine with {@code TargetContext.shared(Type.class, Type::new)}, never in a static
 *       field: two engines in one JVM must not see each other's pools.</li>
 * </ul>
 */
package dev.jdm.targets.lib;
