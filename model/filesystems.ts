/**
 * The file systems this model knows, registered once at start-up (the
 * module_init -> register_filesystem calls of the kernel).  Adding a file
 * system is its folder under model/ plus one line here; generic code finds
 * it through model/fs/registry.ts.
 */
import { register_filesystem } from './fs/registry.ts';
import { ext4_fs_type } from './ext4/super.ts';
import { xfs_fs_type } from './xfs/xfs_super.ts';
import { btrfs_fs_type } from './btrfs/super.ts';

for (const t of [ext4_fs_type, xfs_fs_type, btrfs_fs_type]) register_filesystem(t);

export { fs_types, fsNames, fsTypeOf, get_fs_type, register_filesystem, unregister_filesystem } from './fs/registry.ts';
