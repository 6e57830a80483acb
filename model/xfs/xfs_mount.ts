/**
 * fs/xfs/xfs_mount.h: XFS's private part of the super block (struct
 * xfs_mount) as far as the model needs it, and XFS_M().
 */
import type { SuperBlock } from '../fs/super.ts';

/** struct xfs_mount */
export class XfsMount {
  /** m_groups[XG_TYPE_AG].awu_max: the software atomic write limit, in bytes. */
  awu_max = 0;
}

/** XFS_M(sb) */
export function XFS_M(sb: SuperBlock): XfsMount {
  const m = sb.s_fs_info;
  if (m instanceof XfsMount) return m;
  throw new Error('model bug: XFS_M on a super block XFS did not fill');
}
