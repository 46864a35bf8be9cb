/**
 * The target types, one class per type as the kernel has one dm-*.c per target: each holds its
 * nested {@code Type} ({@link dev.jdm.core.spi.TargetType}: name, version, features, constructor),
 * listed in {@code META-INF/services/dev.jdm.core.spi.TargetType}, where
 * {@link java.util.ServiceLoader} finds it; nothing else registers a type.
 *
 * <p>The simple targets live here: linear, striped, switch and unstriped (remap targets, built on
 * {@link dev.jdm.core.spi.RemapTarget}), zero, error, and the fault and test targets delay, flakey,
 * dust and log-writes. A target with more than one class of its own has a subpackage: crypt,
 * integrity, verity, thin (thin-pool and thin), and logwrites for log-writes' format and replay.
 * No target package imports another.
 *
 * <p>What several targets need (a block prison, a copier in kcopyd's role, periodic work, shared
 * objects one table finds from another) belongs in the shared library package
 * {@code dev.jdm.targets.lib} (the kernel's shared dm libraries), not inside the first target that
 * needed it. The rule for on-disk metadata is the kernel's too: a target's own format (thin's, and
 * cache's and era's when they come) lives with the target; {@code dev.jdm.pdata} is for the generic
 * persistent-data structures they build on.
 */
package dev.jdm.targets;
