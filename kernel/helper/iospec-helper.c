/*
 * iospec-helper: execute iospec scenario steps with real system calls.
 *
 * Reads one request per line on stdin ("step=N op=NAME key=value ..."),
 * performs it against the mounted file system given with --mnt and prints
 * exactly one JSON line per request on stdout.  See README.md.
 *
 * Build: cc -O2 -Wall -Wextra -Werror -std=gnu11 -o iospec-helper iospec-helper.c
 *
 * Deliberately does not include <linux/fs.h>, <linux/stat.h>,
 * <linux/fscrypt.h> or <linux/fiemap.h>: the UAPI pieces used here are
 * copied (6.18 layout) below so that the program builds against old headers
 * and never clashes with glibc's <sys/mount.h> / <sys/stat.h>.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* UAPI fallbacks                                                       */
/* ------------------------------------------------------------------ */

#ifndef O_DIRECT
#define O_DIRECT 040000
#endif
#ifndef O_NOATIME
#define O_NOATIME 01000000
#endif
#ifndef O_DSYNC
#define O_DSYNC 010000
#endif
#ifndef AT_EMPTY_PATH
#define AT_EMPTY_PATH 0x1000
#endif

#ifndef RWF_HIPRI
#define RWF_HIPRI 0x00000001
#endif
#ifndef RWF_DSYNC
#define RWF_DSYNC 0x00000002
#endif
#ifndef RWF_SYNC
#define RWF_SYNC 0x00000004
#endif
#ifndef RWF_NOWAIT
#define RWF_NOWAIT 0x00000008
#endif
#ifndef RWF_APPEND
#define RWF_APPEND 0x00000010
#endif
#ifndef RWF_NOAPPEND
#define RWF_NOAPPEND 0x00000020
#endif
#ifndef RWF_ATOMIC
#define RWF_ATOMIC 0x00000040
#endif
#ifndef RWF_DONTCACHE
#define RWF_DONTCACHE 0x00000080
#endif
#ifndef RWF_WRITETHROUGH
#define RWF_WRITETHROUGH 0x00000200
#endif

#ifndef FALLOC_FL_KEEP_SIZE
#define FALLOC_FL_KEEP_SIZE 0x01
#endif
#ifndef FALLOC_FL_PUNCH_HOLE
#define FALLOC_FL_PUNCH_HOLE 0x02
#endif
#ifndef FALLOC_FL_NO_HIDE_STALE
#define FALLOC_FL_NO_HIDE_STALE 0x04
#endif
#ifndef FALLOC_FL_COLLAPSE_RANGE
#define FALLOC_FL_COLLAPSE_RANGE 0x08
#endif
#ifndef FALLOC_FL_ZERO_RANGE
#define FALLOC_FL_ZERO_RANGE 0x10
#endif
#ifndef FALLOC_FL_INSERT_RANGE
#define FALLOC_FL_INSERT_RANGE 0x20
#endif
#ifndef FALLOC_FL_UNSHARE_RANGE
#define FALLOC_FL_UNSHARE_RANGE 0x40
#endif
#ifndef FALLOC_FL_WRITE_ZEROES
#define FALLOC_FL_WRITE_ZEROES 0x80
#endif

/* statx mask bits */
#ifndef STATX_TYPE
#define STATX_TYPE 0x00000001U
#define STATX_MODE 0x00000002U
#define STATX_NLINK 0x00000004U
#define STATX_UID 0x00000008U
#define STATX_GID 0x00000010U
#define STATX_ATIME 0x00000020U
#define STATX_MTIME 0x00000040U
#define STATX_CTIME 0x00000080U
#define STATX_INO 0x00000100U
#define STATX_SIZE 0x00000200U
#define STATX_BLOCKS 0x00000400U
#define STATX_BASIC_STATS 0x000007ffU
#define STATX_BTIME 0x00000800U
#endif
#ifndef STATX_MNT_ID
#define STATX_MNT_ID 0x00001000U
#endif
#ifndef STATX_DIOALIGN
#define STATX_DIOALIGN 0x00002000U
#endif
#ifndef STATX_MNT_ID_UNIQUE
#define STATX_MNT_ID_UNIQUE 0x00004000U
#endif
#ifndef STATX_SUBVOL
#define STATX_SUBVOL 0x00008000U
#endif
#ifndef STATX_WRITE_ATOMIC
#define STATX_WRITE_ATOMIC 0x00010000U
#endif
#ifndef STATX_DIO_READ_ALIGN
#define STATX_DIO_READ_ALIGN 0x00020000U
#endif

#ifndef __NR_statx
#if defined(__x86_64__)
#define __NR_statx 332
#elif defined(__aarch64__)
#define __NR_statx 291
#endif
#endif
#ifndef SYS_statx
#define SYS_statx __NR_statx
#endif
#ifndef __NR_preadv2
#if defined(__x86_64__)
#define __NR_preadv2 327
#define __NR_pwritev2 328
#elif defined(__aarch64__)
#define __NR_preadv2 286
#define __NR_pwritev2 287
#endif
#endif

/* struct statx, 6.18 UAPI layout (256 bytes). */
struct iospec_statx_timestamp {
	int64_t tv_sec;
	uint32_t tv_nsec;
	int32_t __reserved;
};

struct iospec_statx {
	/* 0x00 */
	uint32_t stx_mask;
	uint32_t stx_blksize;
	uint64_t stx_attributes;
	/* 0x10 */
	uint32_t stx_nlink;
	uint32_t stx_uid;
	uint32_t stx_gid;
	uint16_t stx_mode;
	uint16_t __spare0[1];
	/* 0x20 */
	uint64_t stx_ino;
	uint64_t stx_size;
	uint64_t stx_blocks;
	uint64_t stx_attributes_mask;
	/* 0x40 */
	struct iospec_statx_timestamp stx_atime;
	struct iospec_statx_timestamp stx_btime;
	struct iospec_statx_timestamp stx_ctime;
	struct iospec_statx_timestamp stx_mtime;
	/* 0x80 */
	uint32_t stx_rdev_major;
	uint32_t stx_rdev_minor;
	uint32_t stx_dev_major;
	uint32_t stx_dev_minor;
	/* 0x90 */
	uint64_t stx_mnt_id;
	uint32_t stx_dio_mem_align;
	uint32_t stx_dio_offset_align;
	/* 0xa0 */
	uint64_t stx_subvol;
	uint32_t stx_atomic_write_unit_min;
	uint32_t stx_atomic_write_unit_max;
	/* 0xb0 */
	uint32_t stx_atomic_write_segments_max;
	uint32_t stx_dio_read_offset_align;
	uint32_t stx_atomic_write_unit_max_opt;
	uint32_t __spare2[1];
	/* 0xc0 */
	uint64_t __spare3[8];
	/* 0x100 */
};
_Static_assert(sizeof(struct iospec_statx) == 0x100, "statx layout");
_Static_assert(offsetof(struct iospec_statx, stx_dio_mem_align) == 0x98, "statx layout");
_Static_assert(offsetof(struct iospec_statx, stx_atomic_write_segments_max) == 0xb0, "statx layout");
_Static_assert(offsetof(struct iospec_statx, stx_atomic_write_unit_max_opt) == 0xb8, "statx layout");

/* FICLONERANGE */
struct iospec_file_clone_range {
	int64_t src_fd;
	uint64_t src_offset;
	uint64_t src_length;
	uint64_t dest_offset;
};
#ifndef FS_IOC_GETFLAGS
#define FS_IOC_GETFLAGS _IOR('f', 1, long)
#define FS_IOC_SETFLAGS _IOW('f', 2, long)
#endif
#ifndef BLKFLSBUF
#define BLKFLSBUF _IO(0x12, 97)
#endif
#ifndef FICLONERANGE
#define FICLONERANGE _IOW(0x94, 13, struct iospec_file_clone_range)
#endif

/* FIEMAP */
struct iospec_fiemap_extent {
	uint64_t fe_logical;
	uint64_t fe_physical;
	uint64_t fe_length;
	uint64_t fe_reserved64[2];
	uint32_t fe_flags;
	uint32_t fe_reserved[3];
};
struct iospec_fiemap {
	uint64_t fm_start;
	uint64_t fm_length;
	uint32_t fm_flags;
	uint32_t fm_mapped_extents;
	uint32_t fm_extent_count;
	uint32_t fm_reserved;
	struct iospec_fiemap_extent fm_extents[];
};
_Static_assert(sizeof(struct iospec_fiemap_extent) == 56, "fiemap layout");
_Static_assert(sizeof(struct iospec_fiemap) == 32, "fiemap layout");
#ifndef FS_IOC_FIEMAP
#define FS_IOC_FIEMAP _IOWR('f', 11, struct iospec_fiemap)
#endif
#ifndef FIEMAP_MAX_OFFSET
#define FIEMAP_MAX_OFFSET (~0ULL)
#endif
#ifndef FIEMAP_FLAG_SYNC
#define FIEMAP_FLAG_SYNC 0x00000001
#endif

/* Shutdown: XFS_IOC_GOINGDOWN == EXT4_IOC_SHUTDOWN == _IOR('X', 125, __u32) */
#ifndef IOSPEC_IOC_GOINGDOWN
#define IOSPEC_IOC_GOINGDOWN _IOR('X', 125, uint32_t)
#endif
#define IOSPEC_GOING_FLAGS_NOLOGFLUSH 0x2

/* fscrypt (6.18 UAPI layouts) */
#define IOSPEC_FSCRYPT_POLICY_V2 2
#define IOSPEC_FSCRYPT_KEY_IDENTIFIER_SIZE 16
#define IOSPEC_FSCRYPT_KEY_SPEC_TYPE_IDENTIFIER 2
#define IOSPEC_FSCRYPT_MODE_AES_256_XTS 1
#define IOSPEC_FSCRYPT_MODE_AES_256_CTS 4
#define IOSPEC_FSCRYPT_POLICY_FLAGS_PAD_32 0x03
#define IOSPEC_FSCRYPT_POLICY_FLAG_DIRECT_KEY 0x04
#define IOSPEC_FSCRYPT_POLICY_FLAG_IV_INO_LBLK_64 0x08
#define IOSPEC_FSCRYPT_POLICY_FLAG_IV_INO_LBLK_32 0x10
#define IOSPEC_RAW_KEY_SIZE 64

struct iospec_fscrypt_policy_v2 {
	uint8_t version;
	uint8_t contents_encryption_mode;
	uint8_t filenames_encryption_mode;
	uint8_t flags;
	uint8_t log2_data_unit_size;
	uint8_t __reserved[3];
	uint8_t master_key_identifier[IOSPEC_FSCRYPT_KEY_IDENTIFIER_SIZE];
};
_Static_assert(sizeof(struct iospec_fscrypt_policy_v2) == 24, "fscrypt layout");

struct iospec_fscrypt_key_specifier {
	uint32_t type;
	uint32_t __reserved;
	union {
		uint8_t __reserved[32];
		uint8_t descriptor[8];
		uint8_t identifier[IOSPEC_FSCRYPT_KEY_IDENTIFIER_SIZE];
	} u;
};

struct iospec_fscrypt_add_key_arg {
	struct iospec_fscrypt_key_specifier key_spec;
	uint32_t raw_size;
	uint32_t key_id;
	uint32_t flags;
	uint32_t __reserved[7];
	uint8_t raw[];
};
_Static_assert(sizeof(struct iospec_fscrypt_add_key_arg) == 80, "fscrypt layout");

#ifndef FS_IOC_SET_ENCRYPTION_POLICY
/* the ioctl number is defined with the 12-byte v1 struct */
#define FS_IOC_SET_ENCRYPTION_POLICY _IOR('f', 19, uint8_t[12])
#endif
#ifndef FS_IOC_ADD_ENCRYPTION_KEY
#define FS_IOC_ADD_ENCRYPTION_KEY _IOWR('f', 23, struct iospec_fscrypt_add_key_arg)
#endif

/* ------------------------------------------------------------------ */
/* Output buffer                                                        */
/* ------------------------------------------------------------------ */

typedef struct {
	char *buf;
	size_t len, cap;
} sb_t;

static void die_oom(void)
{
	fputs("iospec-helper: out of memory\n", stderr);
	exit(3);
}

static void sb_reserve(sb_t *sb, size_t extra)
{
	if (sb->len + extra + 1 <= sb->cap)
		return;
	size_t ncap = sb->cap ? sb->cap : 256;
	while (ncap < sb->len + extra + 1)
		ncap *= 2;
	char *n = realloc(sb->buf, ncap);
	if (!n)
		die_oom();
	sb->buf = n;
	sb->cap = ncap;
}

__attribute__((format(printf, 2, 3)))
static void sb_printf(sb_t *sb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	sb_reserve(sb, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	sb->len += (size_t)n;
}

static void sb_puts(sb_t *sb, const char *s)
{
	size_t n = strlen(s);
	sb_reserve(sb, n);
	memcpy(sb->buf + sb->len, s, n + 1);
	sb->len += n;
}

static void sb_json_str(sb_t *sb, const char *s)
{
	sb_puts(sb, "\"");
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			sb_printf(sb, "\\%c", *p);
		else if (*p < 0x20 || *p >= 0x7f)
			sb_printf(sb, "\\u%04x", *p);
		else {
			char c[2] = { (char)*p, 0 };
			sb_puts(sb, c);
		}
	}
	sb_puts(sb, "\"");
}

static void sb_reset(sb_t *sb)
{
	sb->len = 0;
	sb_reserve(sb, 0);
	sb->buf[0] = 0;
}

/* ------------------------------------------------------------------ */
/* errno names                                                          */
/* ------------------------------------------------------------------ */

struct errname {
	int num;
	const char *name;
};

#define E(x) { x, #x }
static const struct errname errnames[] = {
	/* EOPNOTSUPP first: ENOTSUP has the same value on Linux */
	E(EOPNOTSUPP), E(EINVAL), E(EIO), E(EBADF), E(EAGAIN), E(ENOSPC),
	E(EFBIG), E(ENOTBLK), E(EFAULT), E(ENOENT), E(EEXIST), E(EPERM),
	E(EXDEV), E(ENOTTY), E(EISDIR), E(EROFS), E(ENODATA), E(ENOKEY),
	E(ENOTDIR), E(EACCES), E(EMSGSIZE), E(ESPIPE), E(ENXIO), E(ETXTBSY),
	E(EBUSY), E(ENOMEM), E(ERANGE), E(EOVERFLOW), E(EDQUOT), E(EUCLEAN),
	E(ESHUTDOWN), E(ENOTEMPTY), E(EINTR), E(ENOSYS), E(ELOOP),
	E(ENAMETOOLONG), E(EMFILE), E(ENFILE), E(ENODEV), E(ESTALE),
	E(EKEYREJECTED), E(EKEYREVOKED), E(EKEYEXPIRED), E(EBADMSG),
	E(EMLINK), E(ECANCELED), E(ETIMEDOUT), E(E2BIG), E(ECHILD),
	E(EDEADLK), E(ENOLCK), E(ENOLINK), E(EPROTO), E(ESRCH), E(ENOEXEC),
	E(EPIPE), E(EDOM), E(EILSEQ), E(EREMOTEIO), E(ENOMEDIUM),
	E(EMEDIUMTYPE), E(ENOTCONN), E(ENOTUNIQ), E(EBADFD), E(ENOBUFS),
	E(EWOULDBLOCK), E(ENOTSUP), E(EDEADLOCK),
};
#undef E

static const char *errno_name(int e, char *tmp, size_t tmplen)
{
	for (size_t i = 0; i < sizeof(errnames) / sizeof(errnames[0]); i++)
		if (errnames[i].num == e)
			return errnames[i].name;
	snprintf(tmp, tmplen, "E%d", e);
	return tmp;
}

/* ------------------------------------------------------------------ */
/* Flag tables                                                          */
/* ------------------------------------------------------------------ */

struct flagname {
	const char *name;
	uint64_t val;
};

static const struct flagname open_flags[] = {
	{ "O_RDONLY", O_RDONLY }, { "O_WRONLY", O_WRONLY }, { "O_RDWR", O_RDWR },
	{ "O_CREAT", O_CREAT }, { "O_EXCL", O_EXCL }, { "O_TRUNC", O_TRUNC },
	{ "O_APPEND", O_APPEND }, { "O_DIRECT", O_DIRECT }, { "O_DSYNC", O_DSYNC },
	{ "O_SYNC", O_SYNC }, { "O_NOATIME", O_NOATIME },
	{ "O_DIRECTORY", O_DIRECTORY }, { "O_NOFOLLOW", O_NOFOLLOW },
	{ "O_NONBLOCK", O_NONBLOCK }, { "O_CLOEXEC", O_CLOEXEC },
	{ NULL, 0 }
};

static const struct flagname rwf_flags[] = {
	{ "RWF_HIPRI", RWF_HIPRI }, { "RWF_DSYNC", RWF_DSYNC },
	{ "RWF_SYNC", RWF_SYNC }, { "RWF_NOWAIT", RWF_NOWAIT },
	{ "RWF_APPEND", RWF_APPEND }, { "RWF_NOAPPEND", RWF_NOAPPEND },
	{ "RWF_ATOMIC", RWF_ATOMIC }, { "RWF_DONTCACHE", RWF_DONTCACHE },
	{ "RWF_WRITETHROUGH", RWF_WRITETHROUGH },
	{ NULL, 0 }
};

static const struct flagname falloc_flags[] = {
	{ "FALLOC_FL_KEEP_SIZE", FALLOC_FL_KEEP_SIZE },
	{ "FALLOC_FL_PUNCH_HOLE", FALLOC_FL_PUNCH_HOLE },
	{ "FALLOC_FL_NO_HIDE_STALE", FALLOC_FL_NO_HIDE_STALE },
	{ "FALLOC_FL_COLLAPSE_RANGE", FALLOC_FL_COLLAPSE_RANGE },
	{ "FALLOC_FL_ZERO_RANGE", FALLOC_FL_ZERO_RANGE },
	{ "FALLOC_FL_INSERT_RANGE", FALLOC_FL_INSERT_RANGE },
	{ "FALLOC_FL_UNSHARE_RANGE", FALLOC_FL_UNSHARE_RANGE },
	{ "FALLOC_FL_WRITE_ZEROES", FALLOC_FL_WRITE_ZEROES },
	{ NULL, 0 }
};

static const struct flagname fs_flags[] = {
	{ "FS_NOCOW_FL", 0x00800000 },
	{ NULL, 0 },
};

static const struct flagname statx_flags[] = {
	{ "STATX_TYPE", STATX_TYPE }, { "STATX_MODE", STATX_MODE },
	{ "STATX_NLINK", STATX_NLINK }, { "STATX_UID", STATX_UID },
	{ "STATX_GID", STATX_GID }, { "STATX_ATIME", STATX_ATIME },
	{ "STATX_MTIME", STATX_MTIME }, { "STATX_CTIME", STATX_CTIME },
	{ "STATX_INO", STATX_INO }, { "STATX_SIZE", STATX_SIZE },
	{ "STATX_BLOCKS", STATX_BLOCKS }, { "STATX_BASIC_STATS", STATX_BASIC_STATS },
	{ "STATX_BTIME", STATX_BTIME }, { "STATX_MNT_ID", STATX_MNT_ID },
	{ "STATX_DIOALIGN", STATX_DIOALIGN },
	{ "STATX_MNT_ID_UNIQUE", STATX_MNT_ID_UNIQUE },
	{ "STATX_SUBVOL", STATX_SUBVOL },
	{ "STATX_WRITE_ATOMIC", STATX_WRITE_ATOMIC },
	{ "STATX_DIO_READ_ALIGN", STATX_DIO_READ_ALIGN },
	{ NULL, 0 }
};

static const struct flagname fscrypt_flags[] = {
	{ "DIRECT_KEY", IOSPEC_FSCRYPT_POLICY_FLAG_DIRECT_KEY },
	{ "IV_INO_LBLK_64", IOSPEC_FSCRYPT_POLICY_FLAG_IV_INO_LBLK_64 },
	{ "IV_INO_LBLK_32", IOSPEC_FSCRYPT_POLICY_FLAG_IV_INO_LBLK_32 },
	{ "FSCRYPT_POLICY_FLAG_DIRECT_KEY", IOSPEC_FSCRYPT_POLICY_FLAG_DIRECT_KEY },
	{ "FSCRYPT_POLICY_FLAG_IV_INO_LBLK_64", IOSPEC_FSCRYPT_POLICY_FLAG_IV_INO_LBLK_64 },
	{ "FSCRYPT_POLICY_FLAG_IV_INO_LBLK_32", IOSPEC_FSCRYPT_POLICY_FLAG_IV_INO_LBLK_32 },
	{ NULL, 0 }
};

static const struct {
	uint32_t bit;
	const char *name;
} fiemap_flag_names[] = {
	{ 0x00000001, "FIEMAP_EXTENT_LAST" },
	{ 0x00000002, "FIEMAP_EXTENT_UNKNOWN" },
	{ 0x00000004, "FIEMAP_EXTENT_DELALLOC" },
	{ 0x00000008, "FIEMAP_EXTENT_ENCODED" },
	{ 0x00000080, "FIEMAP_EXTENT_DATA_ENCRYPTED" },
	{ 0x00000100, "FIEMAP_EXTENT_NOT_ALIGNED" },
	{ 0x00000200, "FIEMAP_EXTENT_DATA_INLINE" },
	{ 0x00000400, "FIEMAP_EXTENT_DATA_TAIL" },
	{ 0x00000800, "FIEMAP_EXTENT_UNWRITTEN" },
	{ 0x00001000, "FIEMAP_EXTENT_MERGED" },
	{ 0x00002000, "FIEMAP_EXTENT_SHARED" },
};

/* ------------------------------------------------------------------ */
/* Global state                                                         */
/* ------------------------------------------------------------------ */

struct fdent {
	char *name;
	int fd;
	/* The file's identity, taken at open: mmap_write keeps one mapping per
	 * file, and an fstat then would fail on a shut-down file system. */
	dev_t dev;
	ino_t ino;
};

static struct fdent *fdtab;
static size_t nfd, capfd;

/*
 * device_error: every path the scenario opened, with a descriptor of the
 * helper's own (O_RDONLY, opened after a device_error, closed only by a
 * remount or at exit: a close can start writeback, ext4 DA_ALLOC_CLOSE and
 * XFS_ITRUNCATED, so the helper never opens and closes files between steps).
 */
struct healpath {
	char *path;
	int fd;
};
static struct healpath *g_hpaths;
static size_t g_nhpaths;
/* The failing device byte ranges, as the recorder has them in LOG.bad. */
struct badrange {
	uint64_t off, len;
};
static struct badrange *g_badr;
static size_t g_nbadr;

static char *g_mnt;      /* absolute mount point */
static char *g_dev;
static char *g_fstype;
static char *g_mntopts;  /* may be NULL */
static int g_mounted = 1;
/* --crash copy: the loop device's backing image, and where a crash copies it */
static char *g_image;
static char *g_crashcopy;
static int g_crashed;    /* a copy was taken: until remount, the steps are not the dead system's */
/* --recorder: the FUSE recorder (iospec-blkrec) under the loop device: its pid and write log */
static pid_t g_recpid;
static char *g_reclog;
static char g_keep[4096];    /* the crash's keep: "all", "none", or i:sector:count,... */
static char g_pattern[1024]; /* the crash's pattern: n,n,... (or empty) */
static int g_crashlog;       /* LOG.crash holds the log as the power cut left it (for every crash state) */
static int g_crashbase;      /* IMAGE.crash holds the image as the power cut left it */

#define MAX_KEYS 32
static uint8_t g_keys[MAX_KEYS][IOSPEC_RAW_KEY_SIZE];
static size_t g_nkeys;

static sb_t out;

static sigjmp_buf bus_env;
static volatile sig_atomic_t in_mmap_store;

static void bus_handler(int sig)
{
	if (in_mmap_store)
		siglongjmp(bus_env, 1);
	signal(sig, SIG_DFL);
	raise(sig);
}

static struct fdent *fd_lookup(const char *name)
{
	for (size_t i = 0; i < nfd; i++)
		if (strcmp(fdtab[i].name, name) == 0)
			return &fdtab[i];
	return NULL;
}

static void fd_remove(struct fdent *e)
{
	size_t i = (size_t)(e - fdtab);
	close(e->fd);
	free(e->name);
	fdtab[i] = fdtab[nfd - 1];
	nfd--;
}

static void fd_add(const char *name, int fd)
{
	if (nfd == capfd) {
		size_t nc = capfd ? capfd * 2 : 16;
		struct fdent *n = realloc(fdtab, nc * sizeof(*n));
		if (!n)
			die_oom();
		fdtab = n;
		capfd = nc;
	}
	fdtab[nfd].name = strdup(name);
	if (!fdtab[nfd].name)
		die_oom();
	fdtab[nfd].fd = fd;
	struct stat st;
	if (fstat(fd, &st) == 0) {
		fdtab[nfd].dev = st.st_dev;
		fdtab[nfd].ino = st.st_ino;
	} else {
		fdtab[nfd].dev = 0;
		fdtab[nfd].ino = 0;
	}
	nfd++;
}

static void heal_note_path(const char *path)
{
	for (size_t i = 0; i < g_nhpaths; i++)
		if (strcmp(g_hpaths[i].path, path) == 0)
			return;
	struct healpath *n = realloc(g_hpaths, (g_nhpaths + 1) * sizeof(*n));
	if (!n)
		die_oom();
	g_hpaths = n;
	g_hpaths[g_nhpaths].path = strdup(path);
	if (!g_hpaths[g_nhpaths].path)
		die_oom();
	g_hpaths[g_nhpaths].fd = -1;
	g_nhpaths++;
}

/*
 * One shared writable mapping per file, made by its first mmap_write step
 * and used by every later one, as a program keeps a mapping: a store to a
 * page still mapped writable does not fault again (->page_mkwrite does not
 * run again until writeback or a size change write-protects the page), as
 * in the model.  Unmapped before the file system is unmounted.
 */
#define MAP_SPAN (1ULL << 36)
struct kept_map {
	dev_t dev;
	ino_t ino;
	unsigned char *addr;
};
#define MAX_MAPS 64
static struct kept_map g_maps[MAX_MAPS];
static size_t g_nmaps;

static void fd_close_all(void)
{
	while (nfd > 0)
		fd_remove(&fdtab[nfd - 1]);
	for (size_t i = 0; i < g_nhpaths; i++) {
		if (g_hpaths[i].fd >= 0)
			close(g_hpaths[i].fd);
		g_hpaths[i].fd = -1;
	}
	while (g_nmaps > 0) {
		g_nmaps--;
		munmap(g_maps[g_nmaps].addr, MAP_SPAN);
	}
}

/* ------------------------------------------------------------------ */
/* Request parsing                                                      */
/* ------------------------------------------------------------------ */

#define MAX_TOK 64

struct req {
	long long step;
	const char *op;
	int ntok;
	char *key[MAX_TOK];
	char *val[MAX_TOK];
};

static const char *req_get(const struct req *r, const char *k)
{
	for (int i = 0; i < r->ntok; i++)
		if (strcmp(r->key[i], k) == 0)
			return r->val[i];
	return NULL;
}

static int parse_i64(const char *s, int64_t *out_v)
{
	if (!s || !*s)
		return -1;
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 0);
	if (errno || *end)
		return -1;
	*out_v = v;
	return 0;
}

static int parse_u64(const char *s, uint64_t *out_v)
{
	if (!s || !*s || *s == '-')
		return -1;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || *end)
		return -1;
	*out_v = v;
	return 0;
}

/* Parse "A|B|0x40" against a table; "" and "0" mean 0. Returns 0 or -1
 * (then *bad points to a static description). */
static int parse_flags(const char *s, const struct flagname *tab, uint64_t *out_v,
		       char *bad, size_t badlen)
{
	uint64_t v = 0;
	*out_v = 0;
	if (!s || !*s)
		return 0;
	const char *p = s;
	while (*p) {
		const char *q = strchr(p, '|');
		size_t n = q ? (size_t)(q - p) : strlen(p);
		char tok[128];
		if (n == 0 || n >= sizeof(tok)) {
			snprintf(bad, badlen, "bad flag list '%.60s'", s);
			return -1;
		}
		memcpy(tok, p, n);
		tok[n] = 0;
		int found = 0;
		for (const struct flagname *f = tab; f->name; f++) {
			if (strcmp(f->name, tok) == 0) {
				v |= f->val;
				found = 1;
				break;
			}
		}
		if (!found) {
			uint64_t num;
			if (isdigit((unsigned char)tok[0]) && parse_u64(tok, &num) == 0) {
				v |= num;
			} else {
				snprintf(bad, badlen, "unknown flag '%.60s'", tok);
				return -1;
			}
		}
		p += n;
		if (*p == '|') {
			p++;
			if (!*p) {
				snprintf(bad, badlen, "bad flag list '%.60s'", s);
				return -1;
			}
		}
	}
	*out_v = v;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Answer helpers                                                       */
/* ------------------------------------------------------------------ */

static void ans_begin(long long step, const char *op)
{
	sb_reset(&out);
	sb_printf(&out, "{\"step\":%lld,\"op\":", step);
	sb_json_str(&out, op);
}

static void ans_ret(long long ret)
{
	sb_printf(&out, ",\"ret\":%lld", ret);
}

static void ans_errno(int e)
{
	char tmp[32];
	sb_puts(&out, ",\"errno\":");
	sb_json_str(&out, errno_name(e, tmp, sizeof(tmp)));
}

static void ans_error(const char *reason)
{
	sb_puts(&out, ",\"error\":");
	sb_json_str(&out, reason);
}

static void ans_end(void)
{
	sb_puts(&out, "}\n");
	if (fputs(out.buf, stdout) == EOF || fflush(stdout) == EOF)
		exit(4);
}

/* ret_or_errno: -1 -> errno */
static void ans_result(long long rc, int err)
{
	if (rc < 0)
		ans_errno(err);
	else
		ans_ret(rc);
}

/* ------------------------------------------------------------------ */
/* Operation helpers                                                    */
/* ------------------------------------------------------------------ */

static int path_ok(const char *p)
{
	if (!p || !*p || p[0] == '/')
		return 0;
	/* reject ".." components so that no path escapes the mount */
	const char *s = p;
	while (*s) {
		const char *e = strchr(s, '/');
		size_t n = e ? (size_t)(e - s) : strlen(s);
		if (n == 2 && s[0] == '.' && s[1] == '.')
			return 0;
		if (!e)
			break;
		s = e + 1;
	}
	return 1;
}

static int mkdir_p(const char *path)
{
	char *tmp = strdup(path);
	if (!tmp)
		die_oom();
	int rc = 0;
	for (char *p = tmp + 1; ; p++) {
		if (*p == '/' || *p == 0) {
			char saved = *p;
			*p = 0;
			if (tmp[0] && mkdir(tmp, 0755) != 0 && errno != EEXIST) {
				rc = -1;
				break;
			}
			*p = saved;
			if (saved == 0)
				break;
		}
	}
	int e = errno;
	free(tmp);
	errno = e;
	return rc;
}

static void *alloc_buf(size_t len, size_t bufoff, void **base)
{
	void *p = NULL;
	size_t total = len + bufoff;
	if (total < len)
		return NULL;
	if (total == 0)
		total = 1;
	/* round up so that the allocation covers a whole page */
	total = (total + 4095) & ~(size_t)4095;
	if (posix_memalign(&p, 4096, total) != 0)
		return NULL;
	*base = p;
	return (char *)p + bufoff;
}

static long long sys_pwritev2(int fd, const struct iovec *iov, int cnt, int64_t off, int flags)
{
	return syscall(__NR_pwritev2, fd, iov, cnt, (unsigned long)off,
		       (unsigned long)((uint64_t)off >> 32), flags);
}

static long long sys_preadv2(int fd, const struct iovec *iov, int cnt, int64_t off, int flags)
{
	return syscall(__NR_preadv2, fd, iov, cnt, (unsigned long)off,
		       (unsigned long)((uint64_t)off >> 32), flags);
}

static void derive_key(const char *tok, uint8_t key[IOSPEC_RAW_KEY_SIZE])
{
	size_t n = strlen(tok);
	uint8_t src[512];
	size_t slen = 0;
	int hex = n >= 2 && n % 2 == 0 && n / 2 <= sizeof(src);
	for (size_t i = 0; hex && i < n; i++)
		if (!isxdigit((unsigned char)tok[i]))
			hex = 0;
	if (hex) {
		for (size_t i = 0; i < n; i += 2) {
			char b[3] = { tok[i], tok[i + 1], 0 };
			src[slen++] = (uint8_t)strtoul(b, NULL, 16);
		}
	} else {
		slen = n < sizeof(src) ? n : sizeof(src);
		memcpy(src, tok, slen);
	}
	for (size_t i = 0; i < IOSPEC_RAW_KEY_SIZE; i++)
		key[i] = src[i % slen];
}

static int add_key(const uint8_t raw[IOSPEC_RAW_KEY_SIZE], uint8_t id[IOSPEC_FSCRYPT_KEY_IDENTIFIER_SIZE])
{
	struct {
		struct iospec_fscrypt_add_key_arg a;
		uint8_t raw[IOSPEC_RAW_KEY_SIZE];
	} arg;
	memset(&arg, 0, sizeof(arg));
	arg.a.key_spec.type = IOSPEC_FSCRYPT_KEY_SPEC_TYPE_IDENTIFIER;
	arg.a.raw_size = IOSPEC_RAW_KEY_SIZE;
	memcpy(arg.raw, raw, IOSPEC_RAW_KEY_SIZE);
	int rfd = open(g_mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rfd < 0)
		return -1;
	int rc = ioctl(rfd, FS_IOC_ADD_ENCRYPTION_KEY, &arg);
	int e = errno;
	close(rfd);
	if (rc == 0 && id)
		memcpy(id, arg.a.key_spec.u.identifier, IOSPEC_FSCRYPT_KEY_IDENTIFIER_SIZE);
	explicit_bzero(&arg, sizeof(arg));
	errno = e;
	return rc;
}

/* Split mount options into MS_* flags and a data string, like mount(8). */
static unsigned long split_mntopts(const char *opts, char *data, size_t datalen)
{
	static const struct {
		const char *name;
		unsigned long set, clear;
	} tab[] = {
		{ "ro", MS_RDONLY, 0 }, { "rw", 0, MS_RDONLY },
		{ "sync", MS_SYNCHRONOUS, 0 }, { "async", 0, MS_SYNCHRONOUS },
		{ "dirsync", MS_DIRSYNC, 0 },
		{ "noatime", MS_NOATIME, 0 }, { "atime", 0, MS_NOATIME },
		{ "nodiratime", MS_NODIRATIME, 0 }, { "diratime", 0, MS_NODIRATIME },
		{ "relatime", MS_RELATIME, 0 }, { "norelatime", 0, MS_RELATIME },
		{ "strictatime", MS_STRICTATIME, 0 },
		{ "lazytime", MS_LAZYTIME, 0 }, { "nolazytime", 0, MS_LAZYTIME },
		{ "nosuid", MS_NOSUID, 0 }, { "suid", 0, MS_NOSUID },
		{ "nodev", MS_NODEV, 0 }, { "dev", 0, MS_NODEV },
		{ "noexec", MS_NOEXEC, 0 }, { "exec", 0, MS_NOEXEC },
		{ "defaults", 0, 0 },
	};
	unsigned long fl = 0;
	data[0] = 0;
	if (!opts)
		return 0;
	char *copy = strdup(opts);
	if (!copy)
		die_oom();
	char *save = NULL;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		int found = 0;
		for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
			if (strcmp(tab[i].name, t) == 0) {
				fl = (fl | tab[i].set) & ~tab[i].clear;
				found = 1;
				break;
			}
		}
		if (!found) {
			size_t cur = strlen(data);
			snprintf(data + cur, datalen - cur, "%s%s", cur ? "," : "", t);
		}
	}
	free(copy);
	return fl;
}

/* ------------------------------------------------------------------ */
/* Operations                                                           */
/* ------------------------------------------------------------------ */

#define NEED(var, key)                                                   \
	const char *var = req_get(r, key);                               \
	if (!var) {                                                      \
		ans_error("missing " key);                               \
		return;                                                  \
	}

#define NEED_FD(ent, key)                                                \
	NEED(ent##_name, key)                                            \
	struct fdent *ent = fd_lookup(ent##_name);                       \
	if (!ent) {                                                      \
		ans_errno(EBADF);                                        \
		return;                                                  \
	}

#define NEED_MOUNTED()                                                   \
	if (!g_mounted) {                                                \
		ans_error("file system not mounted (last remount failed)"); \
		return;                                                  \
	}

static void op_open(const struct req *r)
{
	char bad[128];
	uint64_t fl;
	NEED(path, "path");
	NEED(name, "fd");
	NEED_MOUNTED();
	if (!path_ok(path)) {
		ans_error("path must be relative and must not contain '..'");
		return;
	}
	if (parse_flags(req_get(r, "flags"), open_flags, &fl, bad, sizeof(bad))) {
		ans_error(bad);
		return;
	}
	struct fdent *old = fd_lookup(name);
	if (old)
		fd_remove(old);
	int fd = open(path, (int)fl, 0644);
	if (fd < 0) {
		ans_errno(errno);
		return;
	}
	fd_add(name, fd);
	heal_note_path(path);
	ans_ret(0);
}

static void op_close(const struct req *r)
{
	NEED_FD(e, "fd");
	int rc = close(e->fd);
	int err = errno;
	e->fd = -1;
	fd_remove(e); /* close(-1) inside is harmless */
	ans_result(rc, err);
}

static void op_mkdir(const struct req *r)
{
	NEED(path, "path");
	NEED_MOUNTED();
	if (!path_ok(path)) {
		ans_error("path must be relative and must not contain '..'");
		return;
	}
	int rc = mkdir_p(path);
	ans_result(rc, errno);
}

static void op_pwrite(const struct req *r)
{
	char bad[128];
	uint64_t fl;
	int64_t off;
	NEED(offs, "offset");
	NEED(iovs, "iov");
	if (parse_i64(offs, &off)) {
		ans_error("bad offset");
		return;
	}
	if (parse_flags(req_get(r, "flags"), rwf_flags, &fl, bad, sizeof(bad))) {
		ans_error(bad);
		return;
	}
	/* count segments */
	size_t nseg = 1;
	for (const char *p = iovs; *p; p++)
		if (*p == ',')
			nseg++;
	if (nseg > 4096) {
		ans_error("too many iov segments");
		return;
	}
	struct iovec *iov = calloc(nseg, sizeof(*iov));
	void **bases = calloc(nseg, sizeof(*bases));
	char *copy = strdup(iovs);
	if (!iov || !bases || !copy)
		die_oom();
	const char *err = NULL;
	size_t i = 0;
	char *p = copy;
	/* manual split so that empty segments are detected */
	for (i = 0; i < nseg && !err; i++) {
		char *comma = strchr(p, ',');
		if (comma)
			*comma = 0;
		char *f[3] = { NULL, NULL, NULL };
		int nf = 0;
		for (char *t = p; t && nf < 4; nf++) {
			char *colon = strchr(t, ':');
			if (colon)
				*colon = 0;
			if (nf < 3)
				f[nf] = t;
			t = colon ? colon + 1 : NULL;
		}
		uint64_t len, fill, bo = 0;
		if (nf < 2 || nf > 3 || parse_u64(f[0], &len) || parse_u64(f[1], &fill) ||
		    fill > 255 || (nf == 3 && parse_u64(f[2], &bo)) || len > (1ULL << 32) ||
		    bo > (1ULL << 20)) {
			err = "bad iov segment (want LEN:FILL:BUFOFF)";
			break;
		}
		void *buf = alloc_buf((size_t)len, (size_t)bo, &bases[i]);
		if (!buf) {
			err = "cannot allocate buffer";
			break;
		}
		memset(buf, (int)fill, (size_t)len);
		iov[i].iov_base = buf;
		iov[i].iov_len = (size_t)len;
		if (comma)
			p = comma + 1;
	}
	if (!err) {
		const char *fdn = req_get(r, "fd");
		struct fdent *e = fdn ? fd_lookup(fdn) : NULL;
		if (!fdn) {
			ans_error("missing fd");
		} else if (!e) {
			ans_errno(EBADF);
		} else {
			long long rc = sys_pwritev2(e->fd, iov, (int)nseg, off, (int)fl);
			ans_result(rc, errno);
		}
	} else {
		ans_error(err);
	}
	for (size_t j = 0; j < nseg; j++)
		free(bases[j]);
	free(bases);
	free(iov);
	free(copy);
}

static void op_pread(const struct req *r)
{
	char bad[128];
	uint64_t fl, len, bo = 0;
	int64_t off;
	NEED(offs, "offset");
	NEED(lens, "length");
	if (parse_i64(offs, &off)) {
		ans_error("bad offset");
		return;
	}
	if (parse_u64(lens, &len) || len > (1ULL << 32)) {
		ans_error("bad length");
		return;
	}
	const char *bos = req_get(r, "bufoff");
	if (bos && parse_u64(bos, &bo)) {
		ans_error("bad bufoff");
		return;
	}
	if (bo > (1ULL << 20)) {
		ans_error("bad bufoff");
		return;
	}
	if (parse_flags(req_get(r, "flags"), rwf_flags, &fl, bad, sizeof(bad))) {
		ans_error(bad);
		return;
	}
	NEED_FD(e, "fd");
	void *base;
	unsigned char *buf = alloc_buf((size_t)len, (size_t)bo, &base);
	if (!buf) {
		ans_error("cannot allocate buffer");
		return;
	}
	/* Touch the buffer first: btrfs does its direct reads with page faults
	 * disabled and falls back to a buffered read for pages not faulted in. */
	memset(buf, 0, (size_t)len);
	struct iovec iov = { buf, (size_t)len };
	long long rc = sys_preadv2(e->fd, &iov, 1, off, (int)fl);
	if (rc < 0) {
		ans_errno(errno);
	} else {
		ans_ret(rc);
		sb_puts(&out, ",\"data\":[");
		long long i = 0;
		int first = 1;
		while (i < rc) {
			long long j = i;
			while (j < rc && buf[j] == buf[i])
				j++;
			sb_printf(&out, "%s[%u,%lld]", first ? "" : ",", buf[i], j - i);
			first = 0;
			i = j;
		}
		sb_puts(&out, "]");
	}
	free(base);
}

static void op_fsync(const struct req *r, int data)
{
	NEED_FD(e, "fd");
	int rc = data ? fdatasync(e->fd) : fsync(e->fd);
	ans_result(rc, errno);
}

static void op_ftruncate(const struct req *r)
{
	int64_t len;
	NEED(lens, "length");
	if (parse_i64(lens, &len)) {
		ans_error("bad length");
		return;
	}
	NEED_FD(e, "fd");
	int rc = ftruncate(e->fd, (off_t)len);
	ans_result(rc, errno);
}

static void op_fallocate(const struct req *r)
{
	char bad[128];
	uint64_t mode;
	int64_t off, len;
	NEED(offs, "offset");
	NEED(lens, "length");
	if (parse_flags(req_get(r, "mode"), falloc_flags, &mode, bad, sizeof(bad))) {
		ans_error(bad);
		return;
	}
	if (parse_i64(offs, &off)) {
		ans_error("bad offset");
		return;
	}
	if (parse_i64(lens, &len)) {
		ans_error("bad length");
		return;
	}
	NEED_FD(e, "fd");
	int rc = fallocate(e->fd, (int)mode, (off_t)off, (off_t)len);
	ans_result(rc, errno);
}

static void op_clone(const struct req *r)
{
	int64_t so, d, l;
	NEED(sos, "srcoffset");
	NEED(ds, "offset");
	NEED(ls, "length");
	if (parse_i64(sos, &so) || parse_i64(ds, &d) || parse_i64(ls, &l)) {
		ans_error("bad srcoffset/offset/length");
		return;
	}
	NEED_FD(e, "fd");
	NEED_FD(s, "src");
	/* The ioctl's fields are __u64: a negative offset reaches the kernel as
	 * the same bits, as from a C program (remap_verify_area: EINVAL). */
	struct iospec_file_clone_range arg = { s->fd, (uint64_t)so, (uint64_t)l, (uint64_t)d };
	int rc = ioctl(e->fd, FICLONERANGE, &arg);
	ans_result(rc, errno);
}

/*
 * FS_IOC_FIEMAP over [start, end) of fd, requests of up to 512 extents
 * repeated until the LAST extent, the end of the range or a short answer:
 * visit(extent, ctx) for each extent in order.  Returns 0 or the errno of
 * the failed request.
 */
static int fiemap_walk(int fd, uint64_t start, uint64_t end, uint32_t flags,
		       void (*visit)(const struct iospec_fiemap_extent *x, void *ctx), void *ctx)
{
	enum { CHUNK = 512 };
	struct iospec_fiemap *fm = calloc(1, sizeof(*fm) + CHUNK * sizeof(struct iospec_fiemap_extent));
	if (!fm)
		die_oom();
	int err = 0;
	while (start < end) {
		memset(fm, 0, sizeof(*fm));
		fm->fm_start = start;
		fm->fm_length = end - start;
		fm->fm_flags = flags;
		fm->fm_extent_count = CHUNK;
		if (ioctl(fd, FS_IOC_FIEMAP, fm) < 0) {
			err = errno;
			break;
		}
		uint32_t n = fm->fm_mapped_extents < CHUNK ? fm->fm_mapped_extents : CHUNK;
		if (n == 0)
			break;
		int last = 0;
		for (uint32_t i = 0; i < n; i++) {
			visit(&fm->fm_extents[i], ctx);
			if (fm->fm_extents[i].fe_flags & 0x1) /* FIEMAP_EXTENT_LAST */
				last = 1;
		}
		uint64_t next = fm->fm_extents[n - 1].fe_logical + fm->fm_extents[n - 1].fe_length;
		if (last || next <= start || n < CHUNK)
			break;
		start = next;
	}
	free(fm);
	return err;
}

/* FS_IOC_SETFLAGS as chattr does it: read the flags, set the FS_*_FL bits
 * given and clear the other bits this helper knows, write them back. */
static void op_setflags(const struct req *r)
{
	char bad[128];
	uint64_t want;
	if (parse_flags(req_get(r, "flags"), fs_flags, &want, bad, sizeof(bad))) {
		ans_error(bad);
		return;
	}
	NEED_FD(e, "fd");
	int fl = 0;
	if (ioctl(e->fd, FS_IOC_GETFLAGS, &fl) != 0) {
		ans_errno(errno);
		return;
	}
	for (const struct flagname *f = fs_flags; f->name; f++)
		fl &= ~(int)f->val;
	fl |= (int)want;
	int rc = ioctl(e->fd, FS_IOC_SETFLAGS, &fl);
	ans_result(rc, errno);
}

static void op_mmap_write(const struct req *r)
{
	int64_t off;
	uint64_t len, fill;
	NEED(offs, "offset");
	NEED(lens, "length");
	NEED(fills, "fill");
	if (parse_i64(offs, &off) || off < 0) {
		ans_error("bad offset");
		return;
	}
	if (parse_u64(lens, &len) || len > (1ULL << 34)) {
		ans_error("bad length");
		return;
	}
	if (parse_u64(fills, &fill) || fill > 255) {
		ans_error("bad fill");
		return;
	}
	NEED_FD(e, "fd");
	if ((uint64_t)off + len > MAP_SPAN) {
		ans_error("mmap_write past 64 GiB");
		return;
	}
	/* do_mmap: a shared writable mapping needs the file open for reading and writing. */
	int acc = fcntl(e->fd, F_GETFL);
	if (acc < 0 || (acc & O_ACCMODE) != O_RDWR) {
		ans_errno(acc < 0 ? errno : EACCES);
		return;
	}
	unsigned char *map = NULL;
	for (size_t i = 0; i < g_nmaps; i++)
		if (g_maps[i].dev == e->dev && g_maps[i].ino == e->ino)
			map = g_maps[i].addr;
	if (!map) {
		if (g_nmaps == MAX_MAPS) {
			ans_error("too many mapped files");
			return;
		}
		void *m = mmap(NULL, MAP_SPAN, PROT_READ | PROT_WRITE, MAP_SHARED, e->fd, 0);
		if (m == MAP_FAILED) {
			ans_errno(errno);
			return;
		}
		map = m;
		g_maps[g_nmaps++] = (struct kept_map){ e->dev, e->ino, map };
	}
	if (sigsetjmp(bus_env, 1) == 0) {
		in_mmap_store = 1;
		memset(map + off, (int)fill, (size_t)len);
		in_mmap_store = 0;
		ans_ret(0);
	} else {
		in_mmap_store = 0;
		sb_puts(&out, ",\"signal\":\"SIGBUS\"");
	}
}

static void op_statx(const struct req *r)
{
	char bad[128];
	uint64_t mask;
	const char *ms = req_get(r, "mask");
	if (!ms)
		ms = "STATX_BASIC_STATS";
	if (parse_flags(ms, statx_flags, &mask, bad, sizeof(bad)) || mask > 0xffffffffULL) {
		ans_error(bad);
		return;
	}
	NEED_FD(e, "fd");
	struct iospec_statx stx;
	memset(&stx, 0, sizeof(stx));
	long rc = syscall(SYS_statx, e->fd, "", AT_EMPTY_PATH, (unsigned int)mask, &stx);
	if (rc < 0) {
		ans_errno(errno);
		return;
	}
	ans_ret(0);
	sb_printf(&out, ",\"statx\":{\"size\":%" PRIu64 ",\"blocks\":%" PRIu64, stx.stx_size,
		  stx.stx_blocks);
	if ((mask & STATX_DIOALIGN) && (stx.stx_mask & STATX_DIOALIGN))
		sb_printf(&out, ",\"dio_mem_align\":%u,\"dio_offset_align\":%u", stx.stx_dio_mem_align,
			  stx.stx_dio_offset_align);
	if ((mask & STATX_DIO_READ_ALIGN) && (stx.stx_mask & STATX_DIO_READ_ALIGN))
		sb_printf(&out, ",\"dio_read_offset_align\":%u", stx.stx_dio_read_offset_align);
	if ((mask & STATX_WRITE_ATOMIC) && (stx.stx_mask & STATX_WRITE_ATOMIC))
		sb_printf(&out,
			  ",\"atomic_write_unit_min\":%u,\"atomic_write_unit_max\":%u"
			  ",\"atomic_write_segments_max\":%u,\"atomic_write_unit_max_opt\":%u",
			  stx.stx_atomic_write_unit_min, stx.stx_atomic_write_unit_max,
			  stx.stx_atomic_write_segments_max, stx.stx_atomic_write_unit_max_opt);
	sb_puts(&out, "}");
}

/* One extent as JSON, appended to the sb_t ctx (comma-separated): logical, physical, length, flags by name. */
static void fiemap_json(const struct iospec_fiemap_extent *x, void *ctx)
{
	sb_t *ext = ctx;
	sb_printf(ext,
		  "%s{\"logical\":%" PRIu64 ",\"physical\":%" PRIu64
		  ",\"length\":%" PRIu64 ",\"flags\":[",
		  ext->len == 0 ? "" : ",", x->fe_logical, x->fe_physical, x->fe_length);
	uint32_t fl = x->fe_flags, known = 0;
	int ff = 1;
	for (size_t k = 0; k < sizeof(fiemap_flag_names) / sizeof(fiemap_flag_names[0]); k++) {
		if (fl & fiemap_flag_names[k].bit) {
			sb_printf(ext, "%s\"%s\"", ff ? "" : ",", fiemap_flag_names[k].name);
			ff = 0;
		}
		known |= fiemap_flag_names[k].bit;
	}
	for (int b = 0; b < 32; b++) {
		uint32_t bit = 1U << b;
		if ((fl & bit) && !(known & bit)) {
			sb_printf(ext, "%s\"0x%x\"", ff ? "" : ",", bit);
			ff = 0;
		}
	}
	sb_puts(ext, "]}");
}

static void op_fiemap(const struct req *r)
{
	uint64_t end = FIEMAP_MAX_OFFSET;
	const char *ls = req_get(r, "length");
	if (ls && parse_u64(ls, &end)) {
		ans_error("bad length");
		return;
	}
	NEED_FD(e, "fd");
	sb_t ext = { 0 };
	sb_reset(&ext);
	int err = fiemap_walk(e->fd, 0, end, FIEMAP_FLAG_SYNC, fiemap_json, &ext);
	if (err) {
		ans_errno(err);
	} else {
		ans_ret(0);
		sb_printf(&out, ",\"extents\":[%s]", ext.buf);
	}
	free(ext.buf);
}

/* Copy file `src` onto `dst` (same size, holes kept), from offset 0. */
static int copy_sparse(const char *src, const char *dst)
{
	int in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -1;
	int out = open(dst, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (out < 0) {
		close(in);
		return -1;
	}
	struct stat st;
	int rc = fstat(in, &st);
	if (rc == 0)
		rc = ftruncate(out, 0);
	if (rc == 0)
		rc = ftruncate(out, st.st_size);
	static char block[1 << 20];
	off_t pos = 0;
	while (rc == 0) {
		off_t data = lseek(in, pos, SEEK_DATA);
		if (data < 0)
			break; /* ENXIO: no data past pos */
		off_t hole = lseek(in, data, SEEK_HOLE);
		if (hole < 0) {
			rc = -1;
			break;
		}
		for (off_t p = data; p < hole && rc == 0;) {
			size_t want = (size_t)(hole - p) < sizeof(block) ? (size_t)(hole - p) : sizeof(block);
			ssize_t got = pread(in, block, want, p);
			if (got <= 0 || pwrite(out, block, (size_t)got, p) != got)
				rc = -1;
			else
				p += got;
		}
		pos = hole;
	}
	if (rc == 0)
		rc = fsync(out);
	int err = errno;
	close(in);
	close(out);
	errno = err;
	return rc;
}

/*
 * A power cut without a shutdown ioctl (btrfs on 6.18): the backing image
 * as the loop device has written it so far is copied now, and the next
 * remount mounts that copy.  The live file system goes on meanwhile; what it
 * answers until the remount is not what a dead machine would, so those
 * steps are answered "unsupported".
 */
static void op_crash_copy(void)
{
	if (copy_sparse(g_image, g_crashcopy) != 0) {
		ans_errno(errno);
		return;
	}
	g_crashed = 1;
	ans_ret(0);
}

/* Wait up to 10 s for a file the recorder creates to acknowledge a signal. */
static int rec_wait(const char *suffix)
{
	char p[4200];
	snprintf(p, sizeof(p), "%s.%s", g_reclog, suffix);
	for (int i = 0; i < 10000; i++) {
		if (access(p, F_OK) == 0)
			return 0;
		struct timespec ts = { 0, 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	errno = ETIMEDOUT;
	return -1;
}

/* Device byte ranges (growing array). */
struct rangelist {
	struct badrange *r;
	size_t n;
	uint64_t blocks; /* file system blocks added */
};

static void rl_push(struct rangelist *l, uint64_t off, uint64_t len)
{
	struct badrange *n = realloc(l->r, (l->n + 1) * sizeof(*n));
	if (!n)
		die_oom();
	l->r = n;
	l->r[l->n].off = off;
	l->r[l->n].len = len;
	l->n++;
}

/* An extent [logical, logical+len) at device byte phys: the part in file range [a,b). */
static void rl_add(struct rangelist *l, uint64_t logical, uint64_t phys, uint64_t len, uint64_t a, uint64_t b, uint64_t bs)
{
	uint64_t s = logical > a ? logical : a;
	uint64_t e = len < b - logical ? logical + len : b;
	if (s >= e)
		return;
	rl_push(l, phys + (s - logical), e - s);
	l->blocks += (e - s) / bs;
}

/*
 * The device byte ranges mapped now behind file range [lo,hi) of fd:
 * written or unwritten extents (FIEMAP without FLAG_SYNC: nothing is
 * written back).  Holes, delayed allocations (FIEMAP UNKNOWN/DELALLOC) and
 * inline or encoded data have no sectors of their own.  XFS's COW fork is
 * not seen: FIEMAP shows the data fork only, and GETBMAPX with
 * BMV_IF_COWFORK answers EINVAL on 6.18 (xfs_io bmap -c too), so the
 * runner refuses device_error on XFS after a clone (kernel/runner.ts).
 * Returns 0 or an errno.
 */
struct mapped_ctx {
	struct rangelist *l;
	uint64_t lo, hi, bs;
};

static void mapped_visit(const struct iospec_fiemap_extent *x, void *ctx)
{
	struct mapped_ctx *m = ctx;
	/* UNKNOWN 0x2 (DELALLOC 0x4 sets it), ENCODED 0x8, DATA_INLINE 0x200 */
	if (!(x->fe_flags & (0x2 | 0x4 | 0x8 | 0x200)))
		rl_add(m->l, x->fe_logical, x->fe_physical, x->fe_length, m->lo, m->hi, m->bs);
}

static int mapped_ranges(int fd, uint64_t lo, uint64_t hi, uint64_t bs, struct rangelist *l)
{
	struct mapped_ctx m = { l, lo, hi, bs };
	return fiemap_walk(fd, lo, hi, 0, mapped_visit, &m);
}

/* Write LOG.bad (the whole list), signal the recorder and wait for its LOG.badack. Returns 0 or -1 (errno). */
static int bad_publish(void)
{
	char path[4200], tmp[4300], ack[4200];
	snprintf(path, sizeof(path), "%s.bad", g_reclog);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	snprintf(ack, sizeof(ack), "%s.badack", g_reclog);
	FILE *f = fopen(tmp, "we");
	if (!f)
		return -1;
	for (size_t i = 0; i < g_nbadr; i++)
		fprintf(f, "%" PRIu64 " %" PRIu64 "\n", g_badr[i].off, g_badr[i].len);
	if (fclose(f) != 0 || rename(tmp, path) != 0)
		return -1;
	unlink(ack);
	if (kill(g_recpid, SIGWINCH) != 0 || rec_wait("badack") != 0)
		return -1;
	return 0;
}

/*
 * device_error: the sectors mapped now behind the file's blocks that cover
 * [offset, offset+length) fail every later read and write (the recorder
 * answers EIO for them), until the file system frees them (bad_heal).  The
 * answer is the number of blocks marked, as the model counts them.
 */
static void op_device_error(const struct req *r)
{
	uint64_t offset, length;
	const char *os = req_get(r, "offset"), *ls = req_get(r, "length");
	if (!os || parse_u64(os, &offset) || !ls || parse_u64(ls, &length) || length == 0) {
		ans_error("bad offset or length");
		return;
	}
	NEED_FD(e, "fd");
	if (!g_recpid) {
		ans_error("device_error needs the FUSE recorder (--recorder)");
		return;
	}
	if (strcmp(g_fstype, "ext4") != 0 && strcmp(g_fstype, "xfs") != 0) {
		ans_error("device_error: only ext4 and XFS (FIEMAP addresses are device offsets there)");
		return;
	}
	struct statfs sfs;
	if (fstatfs(e->fd, &sfs) != 0) {
		ans_errno(errno);
		return;
	}
	uint64_t bs = (uint64_t)sfs.f_bsize;
	uint64_t lo = offset / bs * bs, hi = (offset + length + bs - 1) / bs * bs;
	struct rangelist l = { 0 };
	int err = mapped_ranges(e->fd, lo, hi, bs, &l);
	if (err) {
		free(l.r);
		ans_errno(err);
		return;
	}
	for (size_t i = 0; i < l.n; i++) {
		struct badrange *n = realloc(g_badr, (g_nbadr + 1) * sizeof(*n));
		if (!n)
			die_oom();
		g_badr = n;
		g_badr[g_nbadr++] = l.r[i];
	}
	free(l.r);
	if (bad_publish() != 0) {
		ans_errno(errno);
		return;
	}
	ans_ret((long long)l.blocks);
}

/*
 * After each step: a failing sector that no file the scenario opened maps
 * any more was freed by the file system, and is healed (the
 * model's rule: freeing a block clears its bad range, model/fs/super.ts
 * freeBusy).  Checked between steps, not at the free itself.  Skipped while
 * nothing is mounted or after a crash (the dead file system frees nothing).
 */
static int cmp_range(const void *x, const void *y)
{
	uint64_t a = ((const struct badrange *)x)->off, b = ((const struct badrange *)y)->off;
	return a < b ? -1 : a > b;
}

static void bad_heal(void)
{
	if (g_nbadr == 0 || !g_mounted || g_crashed)
		return;
	struct rangelist m = { 0 };
	for (size_t i = 0; i < g_nhpaths; i++) {
		struct healpath *h = &g_hpaths[i];
		if (h->fd < 0)
			h->fd = open(h->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (h->fd < 0)
			continue;
		struct statfs sfs;
		if (fstatfs(h->fd, &sfs) != 0)
			continue;
		if (mapped_ranges(h->fd, 0, 1ULL << 50, (uint64_t)sfs.f_bsize, &m) != 0) {
			free(m.r);
			return; /* cannot tell: heal nothing */
		}
	}
	/* Sorted and merged (reflinked files map the same blocks), then keep the parts of each bad range some file still maps. */
	qsort(m.r, m.n, sizeof(*m.r), cmp_range);
	size_t w = 0;
	for (size_t j = 0; j < m.n; j++) {
		if (w > 0 && m.r[j].off <= m.r[w - 1].off + m.r[w - 1].len) {
			uint64_t e = m.r[j].off + m.r[j].len;
			if (e > m.r[w - 1].off + m.r[w - 1].len)
				m.r[w - 1].len = e - m.r[w - 1].off;
		} else
			m.r[w++] = m.r[j];
	}
	m.n = w;
	struct badrange *keep = NULL;
	size_t nk = 0;
	int changed = 0;
	for (size_t i = 0; i < g_nbadr; i++) {
		uint64_t a = g_badr[i].off, b = a + g_badr[i].len, covered = 0;
		for (size_t j = 0; j < m.n; j++) {
			uint64_t s = m.r[j].off > a ? m.r[j].off : a;
			uint64_t e = m.r[j].off + m.r[j].len < b ? m.r[j].off + m.r[j].len : b;
			if (s >= e)
				continue;
			struct badrange *n = realloc(keep, (nk + 1) * sizeof(*n));
			if (!n)
				die_oom();
			keep = n;
			keep[nk].off = s;
			keep[nk].len = e - s;
			nk++;
			covered += e - s;
		}
		if (covered < b - a)
			changed = 1;
	}
	free(m.r);
	if (!changed) {
		free(keep);
		return;
	}
	free(g_badr);
	g_badr = keep;
	g_nbadr = nk;
	if (bad_publish() != 0)
		fprintf(stderr, "iospec-helper: healing freed sectors: %s\n", strerror(errno));
}

/*
 * A power cut by the recorder: every later write the loop device makes is
 * dropped.  What survives of the writes since the last flush is decided at
 * the remount (rec_build_image), by the crash's keep or pattern.
 */
static void op_crash_recorder(const struct req *r)
{
	const char *keep = req_get(r, "keep");
	const char *pattern = req_get(r, "pattern");
	snprintf(g_keep, sizeof(g_keep), "%s", keep ? keep : "all");
	snprintf(g_pattern, sizeof(g_pattern), "%s", pattern ? pattern : "");
	char crashlog[4200];
	snprintf(crashlog, sizeof(crashlog), "%s.crash", g_reclog);
	/* Writes already on their way to the device (writeback a write kicked
	 * off, RWF_DONTCACHE) land first: the device has them, as the model's
	 * crash has its bios in flight.  Settled when the log has not changed
	 * for 50 ms (at most 2 s). */
	struct stat prev = { 0 }, now;
	int calm = 0;
	for (int i = 0; i < 200 && calm < 5; i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
		if (stat(g_reclog, &now) != 0)
			break;
		calm = (now.st_size == prev.st_size && now.st_mtim.tv_sec == prev.st_mtim.tv_sec && now.st_mtim.tv_nsec == prev.st_mtim.tv_nsec) ? calm + 1 : 0;
		prev = now;
	}
	if (kill(g_recpid, SIGUSR1) != 0 || rec_wait("cut") != 0 || copy_sparse(g_reclog, crashlog) != 0) {
		ans_errno(errno);
		return;
	}
	g_crashlog = 1;
	g_crashbase = 0;
	g_crashed = 1;
	ans_ret(0);
}

/*
 * The image a crash state starts from: the image as the power cut left it
 * (every volatile write in it), saved at the first remount after the cut and
 * put back under the loop device for each further state (`crash_state`).
 */
static int rec_crash_base(void)
{
	char base[4200];
	snprintf(base, sizeof(base), "%s.crash", g_image);
	if (!g_crashbase) {
		if (copy_sparse(g_image, base) != 0)
			return -1;
		g_crashbase = 1;
		return 0;
	}
	return copy_sparse(base, g_image);
}

struct recw {
	uint64_t off, len;
	long pos; /* where its old bytes start in the log */
};

/* Is sector `s` (absolute, 512 bytes) of volatile write `i` kept? */
static int rec_kept(size_t i, uint64_t s)
{
	if (strcmp(g_keep, "all") == 0)
		return 1;
	if (strcmp(g_keep, "none") == 0)
		return 0;
	/* i:sector:count,... */
	for (const char *p = g_keep; *p;) {
		char *e;
		unsigned long long wi = strtoull(p, &e, 10);
		if (*e != ':')
			break;
		unsigned long long first = strtoull(e + 1, &e, 10);
		if (*e != ':')
			break;
		unsigned long long cnt = strtoull(e + 1, &e, 10);
		if (wi == i && s >= first && s < first + cnt)
			return 1;
		p = *e == ',' ? e + 1 : e;
	}
	return 0;
}

/*
 * The pattern's choice for sector j (0-based, within the write) of write i:
 * the fuzzer's compact choice, cycled over the writes: 0 lost, 1 whole,
 * n >= 2: sector j kept iff bit (j mod 16) of n.
 */
static int rec_pattern_kept(size_t i, uint64_t j)
{
	long v[64];
	int nv = 0;
	for (const char *p = g_pattern; *p && nv < 64;) {
		char *e;
		v[nv++] = strtol(p, &e, 10);
		p = *e == ',' ? e + 1 : e;
		if (e == p && *p != 0)
			break;
	}
	if (nv == 0)
		return 1;
	long n = v[i % (size_t)nv];
	if (n == 0)
		return 0;
	if (n == 1)
		return 1;
	return (n >> (j % 16)) & 1;
}

/*
 * The image as the crash leaves it: every volatile write undone, newest
 * first (the durable image), then the kept sectors of each written again,
 * oldest first.
 */
static int rec_build_image(void)
{
	char crashlog[4200];
	snprintf(crashlog, sizeof(crashlog), "%s.crash", g_reclog);
	if (rec_crash_base() != 0)
		return -1;
	FILE *lf = fopen(crashlog, "rb");
	if (!lf)
		return -1;
	struct recw *w = NULL;
	size_t nw = 0, cap = 0;
	for (;;) {
		uint64_t hdr[2];
		if (fread(hdr, sizeof(hdr), 1, lf) != 1)
			break;
		if (nw == cap) {
			cap = cap ? cap * 2 : 64;
			w = realloc(w, cap * sizeof(*w));
			if (!w) {
				fclose(lf);
				return -1;
			}
		}
		w[nw].off = hdr[0];
		w[nw].len = hdr[1];
		w[nw].pos = ftell(lf);
		nw++;
		if (fseek(lf, (long)(2 * hdr[1]), SEEK_CUR) != 0)
			break;
	}
	int img = open(g_image, O_RDWR | O_CLOEXEC);
	int rc = img < 0 ? -1 : 0;
	char *buf = NULL;
	for (size_t k = nw; rc == 0 && k-- > 0;) {
		buf = realloc(buf, w[k].len ? w[k].len : 1);
		if (!buf || fseek(lf, w[k].pos, SEEK_SET) != 0 || fread(buf, 1, w[k].len, lf) != w[k].len || pwrite(img, buf, w[k].len, (off_t)w[k].off) != (ssize_t)w[k].len)
			rc = -1;
	}
	for (size_t k = 0; rc == 0 && k < nw; k++) {
		buf = realloc(buf, w[k].len ? w[k].len : 1);
		if (!buf || fseek(lf, w[k].pos + (long)w[k].len, SEEK_SET) != 0 || fread(buf, 1, w[k].len, lf) != w[k].len) {
			rc = -1;
			break;
		}
		for (uint64_t j = 0; j * 512 < w[k].len; j++) {
			uint64_t s = w[k].off / 512 + j;
			int kept = g_pattern[0] ? rec_pattern_kept(k, j) : rec_kept(k, s);
			uint64_t n = w[k].len - j * 512 < 512 ? w[k].len - j * 512 : 512;
			if (kept && pwrite(img, buf + j * 512, n, (off_t)(w[k].off + j * 512)) != (ssize_t)n)
				rc = -1;
		}
	}
	int err = errno;
	free(buf);
	free(w);
	fclose(lf);
	if (img >= 0) {
		if (rc == 0 && fsync(img) != 0)
			rc = -1;
		close(img);
	}
	errno = err;
	return rc;
}

static void op_crash(const struct req *r)
{
	(void)r;
	NEED_MOUNTED();
	if (g_recpid) {
		op_crash_recorder(r);
		return;
	}
	if (g_crashcopy) {
		op_crash_copy();
		return;
	}
	int rfd = open(g_mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rfd < 0) {
		ans_errno(errno);
		return;
	}
	uint32_t how = IOSPEC_GOING_FLAGS_NOLOGFLUSH;
	int rc = ioctl(rfd, IOSPEC_IOC_GOINGDOWN, &how);
	int err = errno;
	close(rfd);
	ans_result(rc, err);
}

static void op_remount(const struct req *r);

/*
 * One more crash state of the last power cut (`iospec crashes`): the image
 * as the cut left it, with what `keep`/`pattern` keep of its volatile
 * writes, mounted as a remount does.
 */
static void op_crash_state(const struct req *r)
{
	if (!g_recpid || !g_crashlog) {
		ans_error("crash_state needs a crash through the recorder first");
		return;
	}
	const char *keep = req_get(r, "keep");
	const char *pattern = req_get(r, "pattern");
	snprintf(g_keep, sizeof(g_keep), "%s", keep ? keep : "all");
	snprintf(g_pattern, sizeof(g_pattern), "%s", pattern ? pattern : "");
	g_crashed = 1;
	op_remount(r);
}

static void op_remount(const struct req *r)
{
	(void)r;
	fd_close_all();
	if (chdir("/") != 0) {
		ans_errno(errno);
		return;
	}
	if (g_mounted) {
		int rc = -1;
		for (int tries = 0; tries < 50; tries++) {
			rc = umount2(g_mnt, 0);
			if (rc == 0 || errno != EBUSY)
				break;
			struct timespec ts = { 0, 100 * 1000 * 1000 };
			nanosleep(&ts, NULL);
		}
		if (rc != 0) {
			int err = errno;
			if (chdir(g_mnt) != 0) { /* still mounted: go back */
			}
			ans_errno(err);
			return;
		}
		g_mounted = 0;
	}
	if (g_crashed) {
		/* The image as it was at the crash goes back under the loop device
		 * (the recorder's: built from its write log, then the power is on
		 * again); the block device's cache of the old contents is dropped. */
		int dfd = -1;
		int built = g_recpid ? rec_build_image() : copy_sparse(g_crashcopy, g_image);
		if (built == 0 && g_recpid && (kill(g_recpid, SIGUSR2) != 0 || rec_wait("on") != 0))
			built = -1;
		if (built != 0 || (dfd = open(g_dev, O_RDONLY | O_CLOEXEC)) < 0 || ioctl(dfd, BLKFLSBUF, 0) != 0) {
			int err = errno;
			if (dfd >= 0)
				close(dfd);
			ans_errno(err);
			return;
		}
		close(dfd);
		g_crashed = 0;
	}
	char data[4096];
	unsigned long mfl = split_mntopts(g_mntopts, data, sizeof(data));
	if (mount(g_dev, g_mnt, g_fstype, mfl, data[0] ? data : NULL) != 0) {
		ans_errno(errno);
		return;
	}
	g_mounted = 1;
	if (chdir(g_mnt) != 0) {
		ans_errno(errno);
		return;
	}
	/* re-add fscrypt keys added earlier in this session (best effort) */
	for (size_t i = 0; i < g_nkeys; i++)
		(void)add_key(g_keys[i], NULL);
	ans_ret(0);
}

static void op_encrypt_dir(const struct req *r)
{
	char bad[128];
	uint64_t fl = 0, l2 = 0;
	NEED(path, "path");
	NEED(keytok, "key");
	NEED_MOUNTED();
	if (!path_ok(path)) {
		ans_error("path must be relative and must not contain '..'");
		return;
	}
	if (!*keytok) {
		ans_error("empty key");
		return;
	}
	const char *l2s = req_get(r, "log2dus");
	if (l2s && (parse_u64(l2s, &l2) || l2 > 255)) {
		ans_error("bad log2dus");
		return;
	}
	if (parse_flags(req_get(r, "flags"), fscrypt_flags, &fl, bad, sizeof(bad)) || fl > 0xff) {
		ans_error(bad);
		return;
	}
	if (mkdir(path, 0755) != 0 && errno != EEXIST) {
		ans_errno(errno);
		return;
	}
	uint8_t raw[IOSPEC_RAW_KEY_SIZE];
	struct iospec_fscrypt_policy_v2 pol;
	memset(&pol, 0, sizeof(pol));
	derive_key(keytok, raw);
	if (add_key(raw, pol.master_key_identifier) != 0) {
		ans_errno(errno);
		return;
	}
	int known = 0;
	for (size_t i = 0; i < g_nkeys; i++)
		if (memcmp(g_keys[i], raw, sizeof(raw)) == 0)
			known = 1;
	if (!known && g_nkeys < MAX_KEYS)
		memcpy(g_keys[g_nkeys++], raw, sizeof(raw));
	pol.version = IOSPEC_FSCRYPT_POLICY_V2;
	pol.contents_encryption_mode = IOSPEC_FSCRYPT_MODE_AES_256_XTS;
	pol.filenames_encryption_mode = IOSPEC_FSCRYPT_MODE_AES_256_CTS;
	pol.flags = (uint8_t)(IOSPEC_FSCRYPT_POLICY_FLAGS_PAD_32 | fl);
	pol.log2_data_unit_size = (uint8_t)l2;
	int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		ans_errno(errno);
		return;
	}
	int rc = ioctl(dfd, FS_IOC_SET_ENCRYPTION_POLICY, &pol);
	int err = errno;
	close(dfd);
	ans_result(rc, err);
}

/* ------------------------------------------------------------------ */
/* Main loop                                                            */
/* ------------------------------------------------------------------ */

static void handle_line(char *line)
{
	struct req rq;
	struct req *r = &rq;
	memset(r, 0, sizeof(*r));
	r->step = -1;
	r->op = "";

	/* tokenize on spaces/tabs */
	const char *tokerr = NULL;
	char *save = NULL;
	for (char *t = strtok_r(line, " \t\r", &save); t; t = strtok_r(NULL, " \t\r", &save)) {
		char *eq = strchr(t, '=');
		if (!eq || eq == t) {
			if (!tokerr)
				tokerr = "token without key=value";
			continue;
		}
		*eq = 0;
		if (r->ntok >= MAX_TOK) {
			if (!tokerr)
				tokerr = "too many tokens";
			continue;
		}
		int dup = 0;
		for (int i = 0; i < r->ntok; i++)
			if (strcmp(r->key[i], t) == 0)
				dup = 1;
		if (dup) {
			if (!tokerr)
				tokerr = "duplicate key";
			continue;
		}
		r->key[r->ntok] = t;
		r->val[r->ntok] = eq + 1;
		r->ntok++;
	}
	const char *steps = req_get(r, "step");
	const char *op = req_get(r, "op");
	int64_t st;
	int stepok = steps && parse_i64(steps, &st) == 0;
	if (stepok)
		r->step = st;
	if (op)
		r->op = op;

	if (!stepok || !op || tokerr) {
		/* for op=unsupported, report under the requested name */
		const char *nm = (op && strcmp(op, "unsupported") == 0 && req_get(r, "name")) ?
					 req_get(r, "name") : r->op;
		ans_begin(r->step, nm);
		ans_error(tokerr ? tokerr : !steps ? "missing step" : !stepok ? "bad step" : "missing op");
		ans_end();
		return;
	}

	if (strcmp(op, "unsupported") == 0) {
		const char *nm = req_get(r, "name");
		if (!nm || !*nm) {
			ans_begin(r->step, op);
			ans_error("missing name");
		} else {
			ans_begin(r->step, nm);
			sb_puts(&out, ",\"unsupported\":");
			sb_json_str(&out, nm);
		}
		ans_end();
		return;
	}

	/* After a crash taken by copying the image, the live file system is not the dead one. */
	if (g_crashed && strcmp(op, "remount") != 0 && strcmp(op, "crash_state") != 0 && strcmp(op, "close") != 0) {
		ans_begin(r->step, op);
		sb_puts(&out, ",\"unsupported\":");
		sb_json_str(&out, op);
		ans_end();
		return;
	}

	ans_begin(r->step, op);
	if (strcmp(op, "open") == 0)
		op_open(r);
	else if (strcmp(op, "close") == 0)
		op_close(r);
	else if (strcmp(op, "mkdir") == 0)
		op_mkdir(r);
	else if (strcmp(op, "pwrite") == 0)
		op_pwrite(r);
	else if (strcmp(op, "pread") == 0)
		op_pread(r);
	else if (strcmp(op, "fsync") == 0)
		op_fsync(r, 0);
	else if (strcmp(op, "fdatasync") == 0)
		op_fsync(r, 1);
	else if (strcmp(op, "ftruncate") == 0)
		op_ftruncate(r);
	else if (strcmp(op, "fallocate") == 0)
		op_fallocate(r);
	else if (strcmp(op, "clone") == 0)
		op_clone(r);
	else if (strcmp(op, "mmap_write") == 0)
		op_mmap_write(r);
	else if (strcmp(op, "statx") == 0)
		op_statx(r);
	else if (strcmp(op, "fiemap") == 0)
		op_fiemap(r);
	else if (strcmp(op, "device_error") == 0)
		op_device_error(r);
	else if (strcmp(op, "setflags") == 0)
		op_setflags(r);
	else if (strcmp(op, "sync") == 0) {
		/*
		 * sync(2) of the scenario's file system only: the system-wide
		 * sync() would also commit the file systems of runs going on
		 * beside this one (a btrfs transaction commit there changes what
		 * its crash keeps and makes its NOWAIT writes fail with EAGAIN).
		 * With one file system mounted they are the same call; like
		 * sync(2) it reports nothing (syncfs' writeback error is not read).
		 */
		int sfd = open(g_mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sfd >= 0) {
			(void)syncfs(sfd);
			close(sfd);
		}
		ans_ret(0);
	} else if (strcmp(op, "crash") == 0)
		op_crash(r);
	else if (strcmp(op, "remount") == 0)
		op_remount(r);
	else if (strcmp(op, "crash_state") == 0)
		op_crash_state(r);
	else if (strcmp(op, "encrypt_dir") == 0)
		op_encrypt_dir(r);
	else
		ans_error("unknown op");
	ans_end();
}

static void usage(void)
{
	fputs("usage: iospec-helper --mnt DIR --dev /dev/loopN --fstype TYPE [--mntopts OPTS]\n"
	      "                     [--image FILE (--crash-copy FILE | --recorder PID --log FILE)]\n",
	      stderr);
	exit(2);
}

int main(int argc, char **argv)
{
	const char *mnt = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (i + 1 >= argc)
			usage();
		if (strcmp(a, "--mnt") == 0)
			mnt = argv[++i];
		else if (strcmp(a, "--dev") == 0)
			g_dev = argv[++i];
		else if (strcmp(a, "--fstype") == 0)
			g_fstype = argv[++i];
		else if (strcmp(a, "--mntopts") == 0)
			g_mntopts = argv[++i];
		else if (strcmp(a, "--image") == 0)
			g_image = argv[++i];
		else if (strcmp(a, "--crash-copy") == 0)
			g_crashcopy = argv[++i];
		else if (strcmp(a, "--recorder") == 0)
			g_recpid = (pid_t)atoi(argv[++i]);
		else if (strcmp(a, "--log") == 0)
			g_reclog = argv[++i];
		else
			usage();
	}
	if (!mnt || !g_dev || !g_fstype || (!g_image != (!g_crashcopy && !g_recpid)) || (!g_recpid != !g_reclog))
		usage();
	if (g_mntopts && !*g_mntopts)
		g_mntopts = NULL;
	g_mnt = realpath(mnt, NULL);
	if (!g_mnt || chdir(g_mnt) != 0) {
		fprintf(stderr, "iospec-helper: cannot use mount point %s: %s\n", mnt, strerror(errno));
		return 2;
	}

	/*
	 * Stay on the CPU we start on: ext4 serves small files from a per-CPU
	 * locality group (ext4_mb_group_or_file, raw_cpu_ptr), and block
	 * placement is compared with the model, which has one.
	 */
	int cpu = sched_getcpu();
	if (cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		sched_setaffinity(0, sizeof(set), &set);
	}

	signal(SIGPIPE, SIG_IGN);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = bus_handler;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);

	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	while ((n = getline(&line, &cap, stdin)) >= 0) {
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = 0;
		int blank = 1;
		for (ssize_t i = 0; i < n; i++)
			if (line[i] != ' ' && line[i] != '\t')
				blank = 0;
		if (blank)
			continue;
		if (memchr(line, 0, (size_t)n)) {
			ans_begin(-1, "");
			ans_error("NUL byte in request");
			ans_end();
			continue;
		}
		handle_line(line);
		bad_heal();
	}
	free(line);
	fd_close_all();
	free(out.buf);
	free(g_mnt);
	explicit_bzero(g_keys, sizeof(g_keys));
	return 0;
}
