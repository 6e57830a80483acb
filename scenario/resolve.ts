/**
 * Defaults and geometry checks: a scenario's system section resolved into
 * the complete configuration the model and the kernel runner use.  Every
 * default is listed here (and in README.md); `iospec run --verbose` prints
 * the resolved system.
 */
import type { DeviceConfig } from '../model/block/blk-settings.ts';
import { LOOP_DEVICE_DEFAULTS } from '../model/block/blk-settings.ts';
import type { FsConfig } from '../model/fs/super.ts';
import type { SystemDoc } from './schema.ts';

export interface ResolvedSystem extends FsConfig {
  readonly device: DeviceConfig;
}

export class GeometryError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/** mkfs.xfs (xfsprogs 6.1) refuses file systems smaller than 300 MB. */
export const XFS_MIN_SIZE_MIB = 300;

export function resolveSystem(s: SystemDoc): ResolvedSystem {
  const d = s.device ?? {};
  const device: DeviceConfig = {
    ...LOOP_DEVICE_DEFAULTS,
    ...Object.fromEntries(Object.entries(d).filter(([, v]) => v !== undefined)),
  } as DeviceConfig;
  if (d.physicalBlockSize === undefined) device.physicalBlockSize = Math.max(device.physicalBlockSize, device.logicalBlockSize);
  // max_sectors_kb can be set up to max_hw_sectors_kb, which a device without one given follows.
  if (d.maxHwSectorsKb === undefined) device.maxHwSectorsKb = Math.max(device.maxHwSectorsKb, device.maxSectorsKb);
  const blockSize = s.blockSize ?? 4096;
  const features = [...(s.features ?? [])];
  if (s.fs === 'xfs' && !features.includes('noreflink') && !features.includes('reflink')) features.push('reflink');
  const folioSize = s.folioSize ?? 0;
  const cfg: ResolvedSystem = {
    fs: s.fs,
    blockSize,
    clusterSize: s.clusterSize ?? (features.includes('bigalloc') ? blockSize * 16 : blockSize),
    features,
    mount: [...(s.mount ?? [])],
    folioSize,
    device,
  };
  checkGeometry(cfg);
  return cfg;
}

function checkGeometry(c: ResolvedSystem): void {
  const d = c.device;
  if (d.physicalBlockSize < d.logicalBlockSize)
    throw new GeometryError('system.device.physicalBlockSize', `physicalBlockSize ${d.physicalBlockSize} is smaller than logicalBlockSize ${d.logicalBlockSize}`);
  if (c.blockSize < d.logicalBlockSize)
    throw new GeometryError('system.blockSize', `blockSize ${c.blockSize} is smaller than the device's logicalBlockSize ${d.logicalBlockSize}`);
  if (c.fs === 'ext4' && c.blockSize > 4096)
    throw new GeometryError('system.blockSize', 'ext4 on this kernel mounts block sizes up to the page size (4096)');
  if ((d.maxSectorsKb * 1024) % d.logicalBlockSize !== 0)
    throw new GeometryError('system.device.maxSectorsKb', `maxSectorsKb ${d.maxSectorsKb} is not a multiple of the logical block size`);
  if (d.maxSectorsKb > d.maxHwSectorsKb)
    throw new GeometryError('system.device.maxSectorsKb', `maxSectorsKb ${d.maxSectorsKb} is larger than maxHwSectorsKb ${d.maxHwSectorsKb} (the kernel refuses it)`);
  if (d.maxSegmentSize < 4096) throw new GeometryError('system.device.maxSegmentSize', 'maxSegmentSize must be at least a page (4096)');
  if (c.folioSize !== 0 && c.folioSize < 4096) throw new GeometryError('system.folioSize', 'folioSize must be 0 (the kernel\'s policy) or at least the page size (4096)');
  if (c.fs === 'xfs' && d.sizeMiB < XFS_MIN_SIZE_MIB)
    throw new GeometryError('system.device.sizeMiB', `mkfs.xfs refuses file systems under ${XFS_MIN_SIZE_MIB} MiB`);
  if (c.features.includes('reflink') && c.fs !== 'xfs') throw new GeometryError('system.features', 'reflink is an XFS feature (ext4 has no shared extents)');
  if (c.features.includes('reflink') && c.features.includes('noreflink')) throw new GeometryError('system.features', 'reflink and noreflink contradict each other');
  if (c.features.includes('encrypt') && c.fs !== 'ext4') throw new GeometryError('system.features', 'encrypt is an ext4 feature here (XFS has no fscrypt support)');
  if (c.features.includes('bigalloc')) {
    if (c.fs !== 'ext4') throw new GeometryError('system.features', 'bigalloc is an ext4 feature');
    if (c.clusterSize <= c.blockSize || c.clusterSize % c.blockSize !== 0)
      throw new GeometryError('system.clusterSize', `clusterSize ${c.clusterSize} must be a multiple of blockSize ${c.blockSize} larger than it`);
  } else if (c.clusterSize !== c.blockSize) {
    throw new GeometryError('system.clusterSize', 'clusterSize is only meaningful with the bigalloc feature');
  }
  const bytes = d.sizeMiB * 1024 * 1024;
  if (bytes / c.blockSize < 4096) throw new GeometryError('system.device.sizeMiB', 'the device must hold at least 4096 file system blocks');
}
