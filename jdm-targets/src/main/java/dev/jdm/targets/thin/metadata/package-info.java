/**
 * Thin-pool metadata in the kernel's format (dm-thin-metadata.c), beside the thin targets that use it and
 * built on {@link dev.jdm.pdata}: it declares its superblock type ({@link
 * dev.jdm.targets.thin.metadata.ThinMetadata#SUPERBLOCK}) and uses pdata's btrees, space maps and
 * transactions. See docs/persistent-data.md.
 */
package dev.jdm.targets.thin.metadata;
