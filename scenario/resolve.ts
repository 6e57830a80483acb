/**
 * Defaults and geometry checks: a scenario's system section resolved into
 * the complete configuration the model and the kernel runner use.  Device
 * defaults are the loop device's (model/block/blk-settings.ts); the file
 * system's defaults and rules come from its registered type
 * (model/fs/registry.ts).  `iospec run --verbose` prints the resolved
 * system.
 */
import type { DeviceConfig } from '../model/block/blk-settings.ts';
import { LOOP_DEVICE_DEFAULTS } from '../model/block/blk-settings.ts';
import type { FsConfig } from '../model/fs/super.ts';
import { fsNames, get_fs_type } from '../model/filesystems.ts';
import type { FileSystemType } from '../model/fs/registry.ts';
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

export function resolveSystem(s: SystemDoc): ResolvedSystem {
  const type = get_fs_type(s.fs);
  if (type === undefined) throw new GeometryError('system.fs', `unknown file system "${s.fs}" (this iospec models ${fsNames()})`);
  const d = s.device ?? {};
  const device: DeviceConfig = {
    ...LOOP_DEVICE_DEFAULTS,
    ...Object.fromEntries(Object.entries(d).filter(([, v]) => v !== undefined)),
  } as DeviceConfig;
  if (d.physicalBlockSize === undefined) device.physicalBlockSize = Math.max(device.physicalBlockSize, device.logicalBlockSize);
  // max_sectors_kb can be set up to max_hw_sectors_kb, which a device without one given follows.
  if (d.maxHwSectorsKb === undefined) device.maxHwSectorsKb = Math.max(device.maxHwSectorsKb, device.maxSectorsKb);
  const blockSize = s.blockSize ?? 4096;
  const mkfs = type.mkfsDefaults(s.features ?? [], blockSize);
  const cfg: ResolvedSystem = {
    fs: s.fs,
    blockSize,
    clusterSize: s.clusterSize ?? mkfs.clusterSize,
    features: mkfs.features,
    mount: [...(s.mount ?? [])],
    folioSize: s.folioSize ?? 0,
    device,
  };
  checkGeometry(type, cfg);
  return cfg;
}

function checkGeometry(type: FileSystemType, c: ResolvedSystem): void {
  const d = c.device;
  if (d.physicalBlockSize < d.logicalBlockSize)
    throw new GeometryError('system.device.physicalBlockSize', `physicalBlockSize ${d.physicalBlockSize} is smaller than logicalBlockSize ${d.logicalBlockSize}`);
  if (c.blockSize < d.logicalBlockSize)
    throw new GeometryError('system.blockSize', `blockSize ${c.blockSize} is smaller than the device's logicalBlockSize ${d.logicalBlockSize}`);
  if ((d.maxSectorsKb * 1024) % d.logicalBlockSize !== 0)
    throw new GeometryError('system.device.maxSectorsKb', `maxSectorsKb ${d.maxSectorsKb} is not a multiple of the logical block size`);
  if (d.maxSectorsKb > d.maxHwSectorsKb)
    throw new GeometryError('system.device.maxSectorsKb', `maxSectorsKb ${d.maxSectorsKb} is larger than maxHwSectorsKb ${d.maxHwSectorsKb} (the kernel refuses it)`);
  if (d.maxSegmentSize < 4096) throw new GeometryError('system.device.maxSegmentSize', 'maxSegmentSize must be at least a page (4096)');
  if (c.folioSize !== 0 && c.folioSize < 4096) throw new GeometryError('system.folioSize', 'folioSize must be 0 (the kernel\'s policy) or at least the page size (4096)');
  const known = Object.keys(type.features);
  for (const f of c.features) {
    if (!known.includes(f)) throw new GeometryError('system.features', `"${f}" is not a feature of ${type.name} (${type.name} takes: ${known.length > 0 ? known.join(', ') : 'none'})`);
  }
  const p = type.checkGeometry(c);
  if (p !== null) throw new GeometryError(p.field, p.message);
  const bytes = d.sizeMiB * 1024 * 1024;
  if (bytes / c.blockSize < 4096) throw new GeometryError('system.device.sizeMiB', 'the device must hold at least 4096 file system blocks');
}
