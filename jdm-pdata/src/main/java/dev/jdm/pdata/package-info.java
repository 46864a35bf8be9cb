/**
 * The kernel's persistent-data library ({@code drivers/md/persistent-data/}), generic and in its on-disk
 * format: 4 KiB checksummed blocks ({@link dev.jdm.pdata.BlockManager}), copy-on-write transactions
 * ({@link dev.jdm.pdata.TransactionManager}), btrees ({@link dev.jdm.pdata.BTree}), reference-counting
 * space maps ({@link dev.jdm.pdata.SpaceMap}), arrays and bitsets ({@link dev.jdm.pdata.DmArray},
 * {@link dev.jdm.pdata.DmBitset}).
 *
 * <p>The rule: this package knows no target. Each target's metadata format lives with its target (thin's in
 * {@code dev.jdm.targets.thin.metadata}; cache, era and clone in theirs when they come) and extends this
 * library by declaring its own {@link dev.jdm.pdata.BlockType}s (its superblock, as the kernel's users
 * declare a {@code struct dm_block_validator}) and building on the public API here. What a format needs
 * from pdata is added as library API, never as format-specific code. See docs/persistent-data.md.
 */
package dev.jdm.pdata;
