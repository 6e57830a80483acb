/*
 * iospec-blkrec: the kernel runner's recording, crashable disk.
 *
 * A FUSE file system with one file, "disk", that a loop device uses as its
 * backing file.  With direct_io there is no FUSE page cache: every read and
 * write the loop driver makes reaches this daemon, in the order the loop
 * driver makes them, and every flush (REQ_PREFLUSH or REQ_OP_FLUSH: the loop
 * driver calls vfs_fsync on its backing file; FUA becomes a flush in the
 * block layer, a loop device offering none) arrives as fsync.  That is a
 * block-level write log with flush points: dm-log-writes for a machine
 * without device mapper.
 *
 *   iospec-blkrec IMAGE LOG MOUNTPOINT [writethrough]
 *
 * With "writethrough" the device has no volatile cache (queue/write_cache
 * "write through": the block layer then sends no flushes at all): every
 * write is durable when it completes, and LOG stays empty.
 *
 * IMAGE holds the disk's contents as the device has them, durable or not.
 * LOG records the writes since the last flush (the volatile ones), in order,
 * each as: u64 offset, u32 length, u32 zero, u8 old[length], u8 new[length].
 *
 * - A flush makes every write so far durable: fdatasync(IMAGE), LOG emptied.
 * - SIGUSR1 cuts the power: every later write is acknowledged and dropped,
 *   and flushes do nothing; LOG.cut is created once LOG is complete.
 * - SIGUSR2 turns the power on: LOG is emptied (the runner has rebuilt
 *   IMAGE as the crash left it, from LOG), writes apply again; LOG.on is
 *   created.
 *
 * - SIGWINCH: the failing ranges changed: LOG.bad holds them, one line
 *   each, "OFFSET LENGTH" in bytes of the disk (the helper appends a
 *   device_error step's ranges there).  The handler marks the list stale and
 *   creates LOG.badack; the next read or write reloads it.  From then on,
 *   every read or write overlapping a failing range fails with EIO and
 *   transfers nothing (the loop driver fails the bio with BLK_STS_IOERR),
 *   for good: a freed and reused sector still fails.
 *
 * Single-threaded (fuse -s): requests are handled one at a time, in arrival
 * order.  It exits when MOUNTPOINT is unmounted, or on SIGTERM/SIGINT.
 */
#define FUSE_USE_VERSION 31
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

static int g_img = -1;
static int g_log = -1;
static off_t g_size;
static volatile sig_atomic_t g_cut;
static int g_writethrough;
static char g_cutpath[4096];
static char g_onpath[4096];
static char g_badpath[4096];
static char g_badackpath[4096];
static volatile sig_atomic_t g_badstale;
static struct { uint64_t off, len; } *g_bad;
static size_t g_nbad;

/* async-signal-safe: open, close, ftruncate, lseek, unlink */
static void touch(const char *p)
{
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd >= 0)
		close(fd);
}

static void on_cut(int sig)
{
	(void)sig;
	g_cut = 1;
	unlink(g_onpath);
	touch(g_cutpath);
}

static void on_power(int sig)
{
	(void)sig;
	if (ftruncate(g_log, 0) != 0) { /* the runner reads LOG.on only */
	}
	lseek(g_log, 0, SEEK_SET);
	g_cut = 0;
	unlink(g_cutpath);
	touch(g_onpath);
}

static void on_bad(int sig)
{
	(void)sig;
	g_badstale = 1;
	touch(g_badackpath);
}

/* Reload LOG.bad (outside the signal handler). */
static void bad_reload(void)
{
	g_badstale = 0;
	FILE *f = fopen(g_badpath, "re");
	if (!f)
		return;
	unsigned long long o, l;
	while (fscanf(f, "%llu %llu", &o, &l) == 2) {
		void *n = realloc(g_bad, (g_nbad + 1) * sizeof(*g_bad));
		if (!n)
			break;
		g_bad = n;
		g_bad[g_nbad].off = o;
		g_bad[g_nbad].len = l;
		g_nbad++;
	}
	fclose(f);
}

/* Does [off, off+size) overlap a failing range? */
static int bad_overlaps(off_t off, size_t size)
{
	if (g_badstale) {
		free(g_bad);
		g_bad = NULL;
		g_nbad = 0;
		bad_reload();
	}
	uint64_t a = (uint64_t)off, b = a + size;
	for (size_t i = 0; i < g_nbad; i++)
		if (a < g_bad[i].off + g_bad[i].len && g_bad[i].off < b)
			return 1;
	return 0;
}

static int full_write(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int rec_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	(void)fi;
	memset(st, 0, sizeof(*st));
	if (strcmp(path, "/") == 0) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		return 0;
	}
	if (strcmp(path, "/disk") == 0) {
		st->st_mode = S_IFREG | 0644;
		st->st_nlink = 1;
		st->st_size = g_size;
		return 0;
	}
	return -ENOENT;
}

static int rec_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off, struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	(void)off;
	(void)fi;
	(void)flags;
	if (strcmp(path, "/") != 0)
		return -ENOENT;
	fill(buf, ".", NULL, 0, 0);
	fill(buf, "..", NULL, 0, 0);
	fill(buf, "disk", NULL, 0, 0);
	return 0;
}

static int rec_open(const char *path, struct fuse_file_info *fi)
{
	if (strcmp(path, "/disk") != 0)
		return -ENOENT;
	fi->direct_io = 1;
	fi->keep_cache = 0;
	return 0;
}

static int rec_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)path;
	(void)fi;
	if (off >= g_size)
		return 0;
	if ((off_t)size > g_size - off)
		size = (size_t)(g_size - off);
	if (bad_overlaps(off, size))
		return -EIO;
	size_t done = 0;
	while (done < size) {
		ssize_t n = pread(g_img, buf + done, size - done, off + (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (int)done;
}

static int rec_write(const char *path, const char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)path;
	(void)fi;
	if (off >= g_size)
		return -ENOSPC;
	if ((off_t)size > g_size - off)
		size = (size_t)(g_size - off);
	if (bad_overlaps(off, size))
		return -EIO;
	if (g_cut)
		return (int)size; /* the power is off: acknowledged, never stored */
	char *old = malloc(size);
	if (!old)
		return -ENOMEM;
	ssize_t n = pread(g_img, old, size, off);
	if (n < 0) {
		free(old);
		return -errno;
	}
	if ((size_t)n < size)
		memset(old + n, 0, size - (size_t)n);
	uint64_t hdr[2] = { (uint64_t)off, (uint64_t)size };
	if (!g_writethrough && (full_write(g_log, hdr, sizeof(hdr)) != 0 || full_write(g_log, old, size) != 0 || full_write(g_log, buf, size) != 0)) {
		free(old);
		return -EIO;
	}
	free(old);
	size_t done = 0;
	while (done < size) {
		ssize_t w = pwrite(g_img, buf + done, size - done, off + (off_t)done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -EIO;
		done += (size_t)w;
	}
	return (int)size;
}

static int rec_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	(void)path;
	(void)datasync;
	(void)fi;
	if (g_cut)
		return 0;
	if (fdatasync(g_img) != 0)
		return -errno;
	if (ftruncate(g_log, 0) != 0)
		return -errno;
	lseek(g_log, 0, SEEK_SET);
	return 0;
}

static const struct fuse_operations ops = {
	.getattr = rec_getattr,
	.readdir = rec_readdir,
	.open = rec_open,
	.read = rec_read,
	.write = rec_write,
	.fsync = rec_fsync,
};

int main(int argc, char **argv)
{
	if (argc != 4 && !(argc == 5 && strcmp(argv[4], "writethrough") == 0)) {
		fprintf(stderr, "usage: iospec-blkrec IMAGE LOG MOUNTPOINT [writethrough]\n");
		return 2;
	}
	g_writethrough = argc == 5;
	g_img = open(argv[1], O_RDWR | O_CLOEXEC);
	if (g_img < 0) {
		perror(argv[1]);
		return 1;
	}
	struct stat st;
	if (fstat(g_img, &st) != 0) {
		perror(argv[1]);
		return 1;
	}
	g_size = st.st_size;
	g_log = open(argv[2], O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (g_log < 0) {
		perror(argv[2]);
		return 1;
	}
	/* Absolute: fuse_main may change the working directory. */
	char *log = realpath(argv[2], NULL);
	if (!log) {
		perror(argv[2]);
		return 1;
	}
	snprintf(g_cutpath, sizeof(g_cutpath), "%s.cut", log);
	snprintf(g_onpath, sizeof(g_onpath), "%s.on", log);
	snprintf(g_badpath, sizeof(g_badpath), "%s.bad", log);
	snprintf(g_badackpath, sizeof(g_badackpath), "%s.badack", log);
	free(log);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_flags = SA_RESTART;
	sa.sa_handler = on_cut;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = on_power;
	sigaction(SIGUSR2, &sa, NULL);
	sa.sa_handler = on_bad;
	sigaction(SIGWINCH, &sa, NULL);
	char *fargv[] = { argv[0], "-f", "-s", "-o", "fsname=iospec-blkrec,subtype=iospec-blkrec", argv[3], NULL };
	return fuse_main(6, fargv, &ops, NULL);
}
