/**
 * The tools' side of ext4 (model/fs/registry.ts: FsHarness): how the
 * checker generates ext4 systems and scopes, how this machine's kernel
 * makes one, what is known about it (upstream findings, limitations).
 */
import type { FsHarness } from '../fs/registry.ts';
import type { KnownFinding } from '../../checker/finding.ts';
import { breaks, directExtendAfterMmapPastEof, directExtendPastRecoveredEof, directWriteAfterCrash } from '../../checker/finding.ts';
import { diffSystems } from '../../kernel/diff-target.ts';
import type { Limitation } from '../../kernel/limitation.ts';
import { modelReachedBefore, stepsBefore } from '../../kernel/limitation.ts';
import { ext4_tree_blocks } from './inode.ts';

const FINDINGS: readonly KnownFinding[] = [
  {
    id: 'ext4-dio-extend-stale-tail',
    summary:
      'ext4: a direct write that extends a file does not zero the tail of the old EOF block (XFS does, in xfs_file_write_checks). When a crash lost the size update of an earlier write whose data reached the disk, the bytes it wrote beyond the recovered EOF reappear inside the file, where the gap must read as zeroes. The same missing step (no pagecache_isize_extended, which ext4_da_do_write_end and the truncate paths call) also loses data: with blocks smaller than a page, the page straddling the old EOF stays mapped writable, so a later store through that mapping to the part the write brought inside the file never reaches ->page_mkwrite, its blocks are never allocated, and writeback skips them. Found by the checker; confirmed on Linux 6.18 (XFS zeroes the gap in the same scenario).',
    scenarios: ['test/conformance/ext4-dio-extend-after-crash-stale-tail.json', 'test/conformance/ext4-mmap-beyond-eof-dio-extend.json', 'test/conformance/ext4-mmap-store-after-dio-extend.json', 'test/conformance/ext4-mmap-store-after-dio-extend-aligned.json', 'test/conformance/ext4-mmap-beyond-eof-dio-extend-fdatasync-crash.json', 'test/conformance/ext4-mmap-past-eof-zero-range-extend-dio-extend.json'],
    fix: 'fix-ext4-dio-extend-zero-tail',
    confirmed: true,
    // The lost store is a folio left clean over data only in memory before it is a wrong read; bytes
    // past a recovered EOF that the oracle does not know as the file's are stale data, and, once an
    // unmount made the extension durable, bytes a later crash shows where zeroes were made durable; and
    // bytes stored through mmap past EOF that the extension brought inside the file, once an fsync made them durable.
    invariants: ['data/read-your-writes', 'folio/no-clean-while-block-dirty', 'data/no-stale-exposure', 'durability/fsync'],
    matches(system, steps, results, v) {
      if (v.invariant === 'durability/fsync') return directExtendPastRecoveredEof(system, steps, results, v.step) || directExtendAfterMmapPastEof(steps, results, v.step);
      if (v.invariant === 'data/no-stale-exposure') return directExtendPastRecoveredEof(system, steps, results, v.step);
      return breaks(this, v) && (directWriteAfterCrash(steps, results, v.step) || directExtendAfterMmapPastEof(steps, results, v.step));
    },
  },
  {
    id: 'ext4-atomic-encrypted-buffered',
    summary:
      'ext4: an RWF_ATOMIC direct write to an encrypted file that cannot do direct I/O (no inline encryption) falls back to a buffered write (ext4_dio_write_iter: !ext4_should_use_dio), because ext4_inode_can_atomic_write does not look at encryption; the atomic guarantee is lost. Needs a device with hardware atomic writes: read from the source, not confirmed on hardware.',
    scenarios: ['test/scenarios/ext4-atomic-encrypted-buffered.json'],
    confirmed: false,
    invariants: ['atomic/no-buffered-fallback', 'atomic/no-torn-write'],
    matches(system, _steps, _results, v) {
      return breaks(this, v) && (system.features ?? []).includes('encrypt');
    },
  },
  {
    id: 'ext4-truncate-ignores-zeroing-error',
    summary:
      'ext4_truncate ignores the error of ext4_block_truncate_page: when the new EOF block cannot be read (a failing sector), its tail past the new size is not zeroed, the truncate succeeds, and a later extension of the file exposes the old bytes where the file must read zeroes. Found by the checker; read from the source (6.18 fs/ext4/inode.c: ext4_truncate); confirmed on Linux 6.18 with the kernel runner, whose FUSE device fails the sectors (test/conformance/ext4-truncate-zeroing-read-error.json: bytes 1025..4095 read the old 0x07; with the sectors healthy they read 0). Zhang Yi\'s 2026 series (ext4: use iomap for the buffered I/O path, [PATCH -next v2 02/22, 03/22]) starts checking the error.',
    scenarios: ['test/conformance/ext4-truncate-zeroing-read-error.json'],
    fix: 'fix-ext4-truncate-zeroing-error',
    confirmed: true,
    // The old bytes past the new EOF read inside the file after an extension; made durable by a sync, after a crash too.
    invariants: ['data/read-your-writes', 'data/no-stale-exposure', 'durability/fsync'],
    matches(system, steps, _results, v) {
      const bs = system.blockSize ?? 4096;
      const err = steps.findIndex((s) => s.op === 'device_error');
      return breaks(this, v) && err >= 0 && steps.slice(err + 1, v.step).some((s) => s.op === 'ftruncate' && s.length % bs !== 0);
    },
  },
  {
    id: 'ext4-dio-no-bounce',
    summary:
      'ext4 sends direct I/O straight from the user\'s pages even when the device needs stable pages (it checksums what it receives, T10 PI style): XFS bounce buffers direct I/O there (IOMAP_DIO_BOUNCE when mapping_stable_writes), ext4 does not. A thread that changes its buffer while its direct write is in flight makes the protection information generated at submission stale, and the device fails the write with a guard tag error (EILSEQ). Read from the source (ext4 never passes IOMAP_DIO_BOUNCE); this machine has no device with protection information.',
    scenarios: ['test/scenarios/ext4-dio-no-bounce-stable.json'],
    confirmed: false,
    invariants: ['integrity/checksum-matches-data'],
    matches(system, _steps, _results, v) {
      return breaks(this, v) && system.device?.stableWrites === true;
    },
  },
  {
    id: 'ext4-zeroout-error-stale',
    summary:
      'ext4_map_create_blocks inserts the new extent as written (ext4_ext_map_blocks) before it zeroes the blocks for EXT4_GET_BLOCKS_ZERO (ext4_issue_zeroout), and when the zeroing fails returns the error without taking the extent back: the blocks are mapped, written, and hold whatever the device had. An RWF_ATOMIC direct write whose range is part mapped, part hole (bigalloc) zeroes its new blocks this way (ext4_map_blocks_atomic_write_slow); if a sector of the zeroing fails, the write returns EIO and the other blocks read back stale device contents. Read from the source (fs/ext4/inode.c, 6.18); this machine cannot fail a sector, so not confirmed.',
    scenarios: ['test/scenarios/ext4-atomic-zeroout-error-stale.json'],
    confirmed: false,
    invariants: ['data/no-stale-exposure'],
    matches(_system, steps, results, v) {
      // An atomic write that failed with EIO (its zeroing did) before the stale read.
      return breaks(this, v) && steps.slice(0, v.step).some((s, i) => s.op === 'pwrite' && (s.flags ?? []).includes('RWF_ATOMIC') && results[i]?.errno === 'EIO');
    },
  },
];

const LIMITATIONS: readonly Limitation[] = [
  {
    name: 'ext4-placement-writeback-thread',
    reason:
      'Blocks allocated by writeback that a kernel thread does (the flusher works for sync and for the unmount of a remount, on any CPU) come from that CPU\'s locality group, which is not the helper\'s (the kernel runner keeps the helper on one CPU for its own writes and fsyncs); the model has one locality group. Where such an allocation lands is then not the model\'s, and differs from run to run on the kernel (seen with diff --fuzz --fs ext4 --count 1000 --seed 97, scenario 125: the same scenario agreed once in three kernel runs).',
    matches: (c) => c.d.field === 'placement' && stepsBefore(c).some((s) => s.op === 'sync' || s.op === 'remount'),
  },
  {
    name: 'ext4-extent-tree-block',
    reason:
      'An inode holds four extents in i_block; the fifth makes ext4_ext_grow_indepth allocate an extent tree block (ext4_new_meta_blocks: a metadata request to mballoc without the data hints, goal ext4_inode_to_goal_block: the first block of group 1, or of the file system when it has one group, as with bigalloc on the 512 MiB device), and when the extents fit in the inode again ext4_ext_try_to_merge_up frees it (busy until the commit), so the next fifth extent takes another. An unwritten extent (a direct write, before its completion converts it) counts as one more. The model counts the block in st_blocks (ext4_tree_blocks) but does not allocate it, so data allocated after it can land elsewhere: when the goal block is taken, mballoc\'s search or a new preallocation starts after the tree block, or the tree block takes the cluster data would have had. The kernel\'s trace events show it (ext4_request_blocks with no HINT_DATA flag, lblk 0, goal the group start). Seen in diff --fuzz --fs ext4 --count 5000 --seed 2041, scenario 3976 (the sixth extent one block later) and --seed 2051, scenario 1484 (a direct write\'s unwritten extent was the fifth). Matched when the extents are the same but for their physical placement and the model gave a file a fifth extent record before the step, or when the extents that differ are all from the fifth on and shifted by the same one or two blocks (--fs ext4-encrypt --seed 3103, scenario 1324: the fifth extent one block further, the sixth, a preallocation allocated from another goal, in place; the tree block arose during the FIEMAP\'s own writeback). The kernel may also have a fifth record the model never has, because it keeps unwritten extents apart while unwritten I/O is in flight (ext4_can_extents_be_merged refuses them while i_unwritten is raised): with bigalloc the tree block then takes a cluster the model gives to data, and every extent allocated after it is exactly one cluster further on the kernel (--fs ext4-bigalloc --seed 2061, scenarios 3121 and 3193; --seed 2064, scenarios 2554, 3144 and 4104: in each, the ext4_request_blocks trace shows the one metadata request). Matched then too when every extent that differs is exactly one cluster further.',
    matches: (c) => {
      if (c.d.field !== 'placement' || !Array.isArray(c.d.model) || !Array.isArray(c.d.kernel)) return false;
      const m = c.d.model as ReadonlyArray<readonly [number, number, number]>;
      const k = c.d.kernel as ReadonlyArray<readonly [number, number, number]>;
      if (m.length !== k.length || k.some((e, i) => e[0] !== m[i]![0] || e[2] !== m[i]![2])) return false;
      // Some file needed an extent tree block in the model (ext4_tree_blocks) before the step.
      if (modelReachedBefore(c, (sb) => [...sb.inodes.values()].some((inode) => ext4_tree_blocks(inode) > 0))) return true;
      // With bigalloc the tree block takes a whole cluster: the extents allocated after it are each
      // exactly one cluster further on the kernel, where the model never had a fifth record (the kernel
      // keeps unwritten extents apart while unwritten I/O is in flight).
      if (c.system.features.includes('bigalloc') && k.every((e, i) => e[1] === m[i]![1] || e[1] - m[i]![1] === c.system.clusterSize)) return true;
      if (k.length <= 4) return false;
      const unit = c.system.features.includes('bigalloc') ? c.system.clusterSize : c.system.blockSize;
      // The same extents; those that differ, all from the fifth on, shifted by the same one or two tree
      // blocks (a later extent allocated from another goal, a preallocation far away, may not move).
      const differ = k.flatMap((e, i) => (e[1] !== m[i]![1] ? [i] : []));
      if (differ.length === 0 || differ[0]! < 4) return false;
      const shift = k[differ[0]!]![1] - m[differ[0]!]![1];
      return Math.abs(shift) <= 2 * unit && shift % unit === 0 && differ.every((i) => k[i]![1] - m[i]![1] === shift);
    },
  },
  {
    name: 'ext4-extent-count',
    reason:
      'ext4 places blocks with mballoc, which the model follows (docs/kernel/ext4.md, section 10; the ext4-mballoc-*.json conformance scenarios compare the placement), but not in everything: the extent tree block\'s own placement, a writeback thread on another CPU with its locality group, directories spread over flex groups. Where they differ, the same writes can end up in more or fewer physical extents than in the model; with more than four extents the inode needs an extent tree block, which st_blocks counts, so the statx block count differs by one or two blocks (clusters with bigalloc). Seen once in 300 generated ext4 scenarios with the allocator modelled (diff --fuzz --fs ext4 --count 300 --seed 91), where before it was the usual explanation of a st_blocks difference.',
    matches: (c) => {
      if (c.d.field !== 'statx.blocks') return false;
      const m = Number(c.d.model);
      const k = Number(c.d.kernel);
      const per = (c.system.features.includes('bigalloc') ? c.system.clusterSize : c.system.blockSize) / 512;
      const diff = Math.abs(m - k);
      return diff > 0 && diff % per === 0 && diff / per <= 2;
    },
  },
];

export const ext4_harness: FsHarness = {
  // Every kind of generated system: inline encryption, bigalloc, stable pages, hardware atomic writes.
  supports: () => true,
  generate(d) {
    const sizeMiB = d.small ? 32 : 512;
    // Made with the encrypt feature: sequences then start by encrypting directory d (checker/check.ts).
    if (!d.encrypt) return d.bigalloc > 0 ? { sizeMiB, features: ['bigalloc'], clusterSize: d.blockSize * d.bigalloc } : { sizeMiB };
    return d.inline !== null ? { sizeMiB, features: ['encrypt'], mount: ['inlinecrypt'], inlineCrypto: true } : { sizeMiB, features: ['encrypt'] };
  },
  scopes: [
    { name: 'ext4', system: { fs: 'ext4', blockSize: 4096 }, dir: '', setup: [] },
    {
      // Files in an encrypted directory, encrypted by an inline engine; bios split at 6 KiB.
      name: 'ext4 inlinecrypt',
      system: { fs: 'ext4', blockSize: 4096, features: ['encrypt'], mount: ['inlinecrypt'], device: { inlineCrypto: { dataUnitSizes: [4096] }, maxSectorsKb: 6 } },
      dir: 'd/',
      setup: [{ op: 'mkdir', path: 'd' }, { op: 'encrypt_dir', path: 'd' }],
    },
  ],
  diffTargets: [
    // fiemap steps compare block placement: the model follows mballoc (docs/kernel/ext4.md, section 10).
    { name: 'ext4', label: 'ext4', systems: diffSystems('ext4'), placement: true },
    {
      name: 'ext4-encrypt',
      label: 'ext4 (encrypted directory)',
      // Every file inside an encrypted directory, on ext4 made with -O encrypt,stable_inodes.
      systems: diffSystems('ext4', { blockSizes: [4096], extra: () => ({ features: ['encrypt', 'stable_inodes'] }) }),
      paths: ['d/f', 'd/g', 'd/h'],
      prefix: [{ op: 'encrypt_dir', path: 'd', flags: [] }],
      placement: true,
    },
    {
      name: 'ext4-bigalloc',
      label: 'ext4 (bigalloc)',
      // -O bigalloc with a cluster of 4 or 16 blocks.
      systems: diffSystems('ext4', { extra: (g) => ({ features: ['bigalloc'], clusterSize: g.blockSize * g.ratio }) }),
      placement: true,
    },
  ],
  kernel: {
    mkfs(s) {
      const args = ['-F', '-q', '-b', String(s.blockSize)];
      const feats = ['encrypt', 'stable_inodes', 'bigalloc'].filter((f) => s.features.includes(f));
      if (feats.length > 0) args.push('-O', feats.join(','));
      if (s.features.includes('bigalloc')) args.push('-C', String(s.clusterSize));
      // Inode tables zeroed by mkfs, not by the kernel's ext4lazyinit thread after mount: that thread
      // issues cache flushes of its own at a random moment (ext4_init_inode_table), which would make
      // writes durable that a crash scenario expects to lose.  No discard, when the device's old
      // contents must stay (device.fill).
      args.push('-E', ['lazy_itable_init=0', ...(s.device.fill !== 0 ? ['nodiscard'] : [])].join(','));
      return ['mkfs.ext4', args];
    },
    tools: [{ cmd: 'mkfs.ext4', pkg: 'e2fsprogs' }],
    crash: 'shutdown',
    deviceErrorRefusal: () => null,
  },
  findings: FINDINGS,
  // The variants whose changed code ext4 runs: its own, and the generic ones only ext4 reaches: a direct read it cannot do as direct I/O (an encrypted file), and blk-crypto (the only file system here that encrypts).
  variants: [
    'ext4-no-dioread-nolock',
    'fix-ext4-dio-extend-zero-tail',
    'fix-ext4-truncate-zeroing-error',
    'fix-atomic-append-revalidate',
    'ext4-atomic-no-force-commit',
    'ext4-atomic-aligned-alloc-rfc',
    'ext4-rfc-mballoc-unaligned',
    'ext4-rfc-prealloc-unaligned',
    'ext4-rfc-aligned-no-fallback',
    'ext4-mb-normalize-no-adjust',
    'ext4-mb-discard-leak',
    'dio-read-no-fallback',
    'crypto-dio-lbs-memory',
    'crypto-split-ignores-du',
    'crypto-dun-not-advanced',
    'crypto-dio-without-engine',
    'crypto-no-dun-wrap-limit',
    'crypto-merge-ignores-dun',
    'crypto-all-blk-crypto',
  ],
  limitations: LIMITATIONS,
};
