/**
 * Reproducers: a scenario as a small C program making the same system calls
 * (open, pwritev2 with the RWF flags, preadv2, fsync, fallocate,
 * FICLONERANGE, a store through mmap, statx, the shutdown ioctl for a power
 * failure, umount and mount for a remount).  It runs on a file system the
 * caller has made and mounted (the header comment gives the commands), prints
 * each step's answer next to the model's, and checks every read against the
 * bytes the model predicts.  Steps with no system call are comments.
 */
import { match } from 'ts-pattern';
import type { ScenarioDoc, Step } from '../scenario/schema.ts';
import type { ResolvedSystem } from '../scenario/resolve.ts';
import type { StepResult } from '../model/system.ts';
import { describeResult, describeStep } from '../checker/replay.ts';
import { mkfsCommand, sysfsSettings } from './runner.ts';
import { FALLOC_FLAGS, FS_FLAGS, RWF_FLAGS } from '../model/vfs/fcntl.ts';

/** The RWF_ and FALLOC_FL_ values the model knows, for C headers older than the kernel (or an RFC's flag). */
const FLAG_DEFINES = Object.entries({ ...RWF_FLAGS, ...FALLOC_FLAGS })
  .map(([name, v]) => `#ifndef ${name}\n#define ${name} 0x${v.toString(16)}\n#endif`)
  .join('\n');

const cstr = (s: string): string => JSON.stringify(s);
const comment = (s: string): string => s.replace(/\*\//g, '* /');

function flagExpr(flags: readonly string[] | undefined, none = '0'): string {
  const f = (flags ?? []).filter((x) => x !== '');
  return f.length === 0 ? none : f.join(' | ');
}

/** The model's answer as the program prints it: a return value or an errno name. */
function expected(r: StepResult | undefined): string {
  if (r === undefined) return '?';
  if (r.errno !== undefined) return r.errno;
  if (r.signal !== undefined) return r.signal;
  return String(r.ret ?? 0);
}

/** C statements for one step (indented by two spaces). */
function stepCode(s: Step, i: number, r: StepResult | undefined, fdIndex: (fd: string) => number): string[] {
  const n = i + 1;
  const exp = cstr(expected(r));
  const desc = cstr(describeStep(s));
  const report = (expr: string): string => `  report(${n}, ${desc}, ${expr}, ${exp});`;
  return match(s)
    // Opening onto a name in use replaces that descriptor (as the scenario's fd table does).
    .with({ op: 'open' }, (o) => [`  if (fds[${fdIndex(o.fd)}] >= 0) close(fds[${fdIndex(o.fd)}]);`, `  fds[${fdIndex(o.fd)}] = open(path(${cstr(o.path)}), ${flagExpr(o.flags)}, 0644);`, report(`fds[${fdIndex(o.fd)}] < 0 ? -1 : 0`)])
    .with({ op: 'close' }, (c) => [report(`close(fds[${fdIndex(c.fd)}])`)])
    .with({ op: 'mkdir' }, (m) => [report(`mkdir(path(${cstr(m.path)}), 0755)`)])
    .with({ op: 'pwrite' }, (w) => {
      const iov = w.iov ?? [{ length: w.length ?? 0, fill: w.fill ?? 0, bufOffset: w.bufOffset }];
      const lines = [`  {`, `    struct iovec iov[${iov.length}];`];
      iov.forEach((v, k) => lines.push(`    iov[${k}].iov_base = buffer(${v.length}, 0x${v.fill.toString(16)}, ${v.bufOffset ?? 0}); iov[${k}].iov_len = ${v.length};`));
      if (w.storeDuringIo !== undefined) lines.push(`    /* not reproduced: another thread stores into the buffer while the I/O is in flight (a model-only race) */`);
      lines.push(`  ${report(`pwritev2(fds[${fdIndex(w.fd)}], iov, ${iov.length}, ${w.offset}, ${flagExpr(w.flags)})`).trim()}`, '  }');
      return lines;
    })
    .with({ op: 'pread' }, (p) => {
      const want = r?.data === undefined ? 'NULL, 0' : `(const int[]){${r.data.map(([v, k]) => `${v}, ${k}`).join(', ')}}, ${r.data.length}`;
      return [
        '  {',
        `    struct iovec iov = { buffer(${p.length}, 0, ${p.bufOffset ?? 0}), ${p.length} };`,
        `    long ret = preadv2(fds[${fdIndex(p.fd)}], &iov, 1, ${p.offset}, ${flagExpr(p.flags)});`,
        `    report(${n}, ${desc}, ret, ${exp});`,
        `    if (ret > 0) check_data(${n}, iov.iov_base, ret, ${want});`,
        '  }',
      ];
    })
    .with({ op: 'fsync' }, (f) => [report(`fsync(fds[${fdIndex(f.fd)}])`)])
    .with({ op: 'fdatasync' }, (f) => [report(`fdatasync(fds[${fdIndex(f.fd)}])`)])
    .with({ op: 'ftruncate' }, (t) => [report(`ftruncate(fds[${fdIndex(t.fd)}], ${t.length})`)])
    .with({ op: 'fallocate' }, (f) => [report(`fallocate(fds[${fdIndex(f.fd)}], ${f.mode === 0 ? '0' : flagExpr(f.mode)}, ${f.offset}, ${f.length})`)])
    .with({ op: 'clone' }, (c) => [
      '  {',
      `    struct file_clone_range fcr = { .src_fd = fds[${fdIndex(c.src)}], .src_offset = ${c.srcOffset}, .src_length = ${c.length}, .dest_offset = ${c.offset} };`,
      `  ${report(`ioctl(fds[${fdIndex(c.fd)}], FICLONERANGE, &fcr)`).trim()}`,
      '  }',
    ])
    .with({ op: 'mmap_write' }, (m) => [report(`mmap_write(fds[${fdIndex(m.fd)}], ${m.offset}, ${m.length}, 0x${m.fill.toString(16)})`)])
    .with({ op: 'statx' }, (x) => [report(`do_statx(fds[${fdIndex(x.fd)}])`)])
    .with({ op: 'setflags' }, (x) => [
      '  {',
      // The model's flags replace only the flags it knows; the others stay as FS_IOC_GETFLAGS reports them.
      `    int fl = 0;`,
      `    ioctl(fds[${fdIndex(x.fd)}], FS_IOC_GETFLAGS, &fl);`,
      `    fl = (fl & ~(${Object.keys(FS_FLAGS).join(' | ')})) | ${flagExpr(x.flags)};`,
      `  ${report(`ioctl(fds[${fdIndex(x.fd)}], FS_IOC_SETFLAGS, &fl)`).trim()}`,
      '  }',
    ])
    .with({ op: 'fiemap' }, (x) => [`  /* step ${n}: ${comment(describeStep(x))}: run filefrag -v or xfs_io -c "fiemap -v" on the file; model: ${comment(r === undefined ? '?' : describeResult(r))} */`])
    .with({ op: 'sync' }, () => [report('(sync(), 0)')])
    .with({ op: 'crash' }, (c) => [
      ...(c.keep !== undefined && c.keep !== 'all' ? [`  /* the model kept ${comment(JSON.stringify(c.keep))} of the writes not yet durable; a shutdown keeps what the device has, so the outcome may differ */`] : []),
      report('shutdown_fs()'),
    ])
    .with({ op: 'remount' }, () => [report('remount()')])
    .with({ op: 'encrypt_dir' }, (e) => [`  /* step ${n}: ${comment(describeStep(e))}: not exported (set an fscrypt v2 policy with fscryptctl first) */`])
    .with({ op: 'writeback' }, { op: 'complete' }, { op: 'journal_commit' }, { op: 'reclaim' }, (x) => [`  /* step ${n}: ${comment(describeStep(x))}: a model-only step, no system call does this */`])
    .with({ op: 'device_error' }, (x) => [`  /* step ${n}: ${comment(describeStep(x))}: no system call does this (iospec run --kernel fails these sectors through its FUSE device) */`])
    .exhaustive();
}

const PRELUDE = String.raw`#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <linux/falloc.h>
#include <linux/fs.h>

RWF_AND_FALLOC_DEFINES
#ifndef STATX_WRITE_ATOMIC
#define STATX_WRITE_ATOMIC 0x00010000U
#endif
#ifndef STATX_DIOALIGN
#define STATX_DIOALIGN 0x00002000U
#endif
/* XFS_IOC_GOINGDOWN and EXT4_IOC_SHUTDOWN: the same ioctl; flag 2 = no log flush (xfs_io "shutdown"). */
#define GOINGDOWN _IOR('X', 125, unsigned int)

static const char *mnt, *dev;
static int fds[FD_COUNT];
static int failures;

__attribute__((unused)) static const char *path(const char *rel) {
  static char p[4096];
  snprintf(p, sizeof(p), "%s/%s", mnt, rel);
  return p;
}

/* The buffer of a write or read: page aligned plus the scenario's offset, filled with one byte value. */
__attribute__((unused)) static void *buffer(size_t len, int fill, size_t off) {
  char *p;
  if (posix_memalign((void **)&p, 4096, len + off + 4096) != 0) abort();
  memset(p, 0, len + off + 4096);
  memset(p + off, fill, len);
  return p + off;
}

static void report(int step, const char *what, long ret, const char *model) {
  char got[64];
  if (ret < 0) snprintf(got, sizeof(got), "%s", strerrorname_np(errno));
  else snprintf(got, sizeof(got), "%ld", ret);
  printf("step %d: %-48s -> %s", step, what, got);
  if (strcmp(got, model) != 0) { printf("   (model: %s)", model); failures++; }
  printf("\n");
}

/* Compare what a read returned with the model's runs of byte values. */
__attribute__((unused)) static void check_data(int step, const unsigned char *p, long n, const int *runs, int nruns) {
  long at = 0;
  for (int i = 0; runs != NULL && i < nruns && at < n; i++)
    for (int k = 0; k < runs[2 * i + 1] && at < n; k++, at++)
      if (p[at] != runs[2 * i]) {
        printf("step %d: byte %ld reads 0x%02x, the model says 0x%02x\n", step, at, p[at], runs[2 * i]);
        failures++;
        return;
      }
}

/* One shared mapping per file, kept until the remount (as iospec's helper does): a page already
 * mapped writable takes a later store without a fault, so ->page_mkwrite does not run again. */
#define MAP_SPAN (1LL << 36)
static struct { dev_t dev; ino_t ino; char *addr; } maps[16];
static int nmaps;
__attribute__((unused)) static void unmap_all(void) {
  while (nmaps > 0) { nmaps--; munmap(maps[nmaps].addr, MAP_SPAN); }
}
__attribute__((unused)) static long mmap_write(int fd, long off, long len, int fill) {
  struct stat st;
  char *m = NULL;
  if (fstat(fd, &st) < 0) return -1;
  for (int i = 0; i < nmaps; i++) if (maps[i].dev == st.st_dev && maps[i].ino == st.st_ino) m = maps[i].addr;
  if (m == NULL) {
    if (nmaps == 16) { errno = ENOMEM; return -1; }
    m = mmap(NULL, MAP_SPAN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) return -1;
    maps[nmaps].dev = st.st_dev; maps[nmaps].ino = st.st_ino; maps[nmaps++].addr = m;
  }
  memset(m + off, fill, len);
  return 0;
}

/* struct statx as the kernel lays it out (include/uapi/linux/stat.h), atomic write fields included. */
struct iospec_statx {
  unsigned int mask, blksize;
  unsigned long long attributes;
  unsigned int nlink, uid, gid;
  unsigned short mode, spare0;
  unsigned long long ino, size, blocks, attributes_mask;
  struct { long long sec; unsigned int nsec; int reserved; } atime, btime, ctime, mtime;
  unsigned int rdev_major, rdev_minor, dev_major, dev_minor;
  unsigned long long mnt_id;
  unsigned int dio_mem_align, dio_offset_align;
  unsigned long long subvol;
  unsigned int atomic_write_unit_min, atomic_write_unit_max, atomic_write_segments_max;
  unsigned int dio_read_offset_align, atomic_write_unit_max_opt, spare2;
  unsigned long long spare3[8];
};

__attribute__((unused)) static long do_statx(int fd) {
  struct iospec_statx st;
  memset(&st, 0, sizeof(st));
  if (syscall(SYS_statx, fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS | STATX_DIOALIGN | STATX_WRITE_ATOMIC, &st) < 0) return -1;
  printf("        size=%llu blocks=%llu dio_mem_align=%u dio_offset_align=%u atomic_write_unit_min=%u atomic_write_unit_max=%u\n",
         st.size, st.blocks, st.dio_mem_align, st.dio_offset_align, st.atomic_write_unit_min, st.atomic_write_unit_max);
  return 0;
}

__attribute__((unused)) static long shutdown_fs(void) {
  unsigned int flag = 2;
  int d = open(mnt, O_RDONLY);
  long r = ioctl(d, GOINGDOWN, &flag);
  close(d);
  return r;
}

__attribute__((unused)) static long remount(void) {
  for (int i = 0; i < FD_COUNT; i++) if (fds[i] >= 0) { close(fds[i]); fds[i] = -1; }
  unmap_all();
  if (umount(mnt) < 0) return -1;
  return mount(dev, mnt, FSTYPE, 0, MOUNT_OPTS);
}
`;
const C_PRELUDE = PRELUDE.replace('RWF_AND_FALLOC_DEFINES', FLAG_DEFINES);

/**
 * A C reproducer in its three parts: `head` (the comment saying how to run it, then the three
 * defines that are the scenario's: FD_COUNT, FSTYPE, MOUNT_OPTS), `prelude` (the includes and
 * helpers, the same text in every reproducer) and `main` (the scenario's steps).
 */
export interface CProgram {
  readonly head: readonly string[];
  readonly prelude: string;
  readonly main: readonly string[];
}

/** The scenario as a C program; `results` (the upstream model's answers) are what it compares with. */
export function toC(doc: ScenarioDoc, system: ResolvedSystem, results: readonly StepResult[] | null): string {
  const c = toCProgram(doc, system, results);
  return [...c.head, c.prelude, ...c.main].join('\n');
}

/** `toC` before its parts are joined (the test compiles every reproducer's `main` in one unit). */
export function toCProgram(doc: ScenarioDoc, system: ResolvedSystem, results: readonly StepResult[] | null): CProgram {
  const names: string[] = [];
  const fdIndex = (fd: string): number => {
    let i = names.indexOf(fd);
    if (i < 0) {
      names.push(fd);
      i = names.length - 1;
    }
    return i;
  };
  const body: string[] = [];
  doc.steps.forEach((s, i) => body.push(...stepCode(s, i, results?.[i], fdIndex)));
  const [mkfs, args] = mkfsCommand(system);
  const header = [
    '/*',
    ` * ${comment(doc.name ?? 'iospec scenario')}`,
    ...(doc.violates !== undefined ? [` * iospec: ${comment(doc.violates.invariant)} at step ${doc.violates.step}${doc.variant !== undefined && Object.keys(doc.variant).length > 0 ? ` on variant ${Object.keys(doc.variant).join(', ')} (this kernel is upstream: it should not show it)` : ''}`, ` *   ${comment(doc.violates.detail)}`] : []),
    ' * Exported by `iospec export --c`.  Each step prints its answer and, when it differs,',
    ' * what the upstream model predicts; every read is checked byte for byte.',
    ' * Build and run as root on a scratch file system:',
    ' *   cc -o repro repro.c',
    ` *   ${system.device.fill === 0 ? `truncate -s ${system.device.sizeMiB}M /tmp/img` : `head -c ${system.device.sizeMiB}M /dev/zero | tr '\\0' '\\${system.device.fill.toString(8)}' > /tmp/img`}; DEV=$(losetup -f --show -b ${system.device.logicalBlockSize} /tmp/img)`,
    ...sysfsSettings(system).map(([k, v]) => ` *   echo "${v}" > /sys/block/$(basename $DEV)/queue/${k}`),
    ` *   ${mkfs} ${args.join(' ')} $DEV && mkdir -p /mnt/t && mount ${system.mount.length > 0 ? `-o ${system.mount.join(',')} ` : ''}$DEV /mnt/t`,
    ' *   ./repro /mnt/t $DEV; umount /mnt/t; losetup -d $DEV',
    ' */',
  ];
  const head = [...header, `#define FD_COUNT ${Math.max(1, names.length)}`, `#define FSTYPE ${cstr(system.fs)}`, `#define MOUNT_OPTS ${cstr(system.mount.join(','))}`];
  const main = [
    'int main(int argc, char **argv) {',
    '  if (argc < 3) { fprintf(stderr, "usage: %s MOUNTPOINT DEVICE\\n", argv[0]); return 2; }',
    '  mnt = argv[1];',
    '  dev = argv[2];',
    '  for (int i = 0; i < FD_COUNT; i++) fds[i] = -1;',
    ...body,
    '  printf("%d difference(s) from the model\\n", failures);',
    '  return failures == 0 ? 0 : 1;',
    '}',
    '',
  ];
  return { head, prelude: C_PRELUDE, main };
}
