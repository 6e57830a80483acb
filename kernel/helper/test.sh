#!/bin/bash
# Self-test for iospec-helper (run as root).
#
# For each case: sparse image -> mkfs -> losetup -f --show -> mount -> run the
# helper with a fixed request list -> compare every answer line against an
# extended regular expression -> umount -> losetup -d.  A trap always removes
# the mount, the loop device and the temp dir, also on failure or Ctrl-C.
# Only the loop device / mount created by this script are ever touched.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
if [ "$(id -u)" != 0 ]; then
	echo "test.sh: must run as root" >&2
	exit 1
fi

TMP=$(mktemp -d /tmp/iospec-helpertest-XXXX)
MNT="$TMP/mnt"
LOOP=""
mkdir -p "$MNT"

teardown() {
	if mountpoint -q "$MNT"; then
		umount "$MNT" 2>/dev/null || { sleep 1; umount "$MNT"; } || umount -l "$MNT" || true
	fi
	if [ -n "$LOOP" ]; then
		losetup -d "$LOOP" || true
		LOOP=""
	fi
}

cleanup() {
	local rc=$?
	set +e
	teardown
	rm -rf "$TMP"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

echo "building helper"
cc -O2 -Wall -Wextra -Werror -std=gnu11 -o "$TMP/iospec-helper" "$HERE/iospec-helper.c"

FAILS=0
TOTAL=0

# run_case NAME FSTYPE SIZE MKFS_CMD... -- then case body on stdin:
# lines "REQUEST ||| EXPECTED_ERE"
run_case() {
	local name=$1 fstype=$2 size=$3
	shift 3
	local img="$TMP/$name.img"
	local spec="$TMP/$name.spec"
	cat >"$spec"
	echo
	echo "=== case $name ($fstype, $*) ==="
	truncate -s "$size" "$img"
	"$@" "$img" >/dev/null
	LOOP=$(losetup -f --show "$img")
	mount -t "$fstype" "$LOOP" "$MNT"

	sed 's/ *|||.*$//' "$spec" >"$TMP/$name.req"
	sed 's/^.*||| *//' "$spec" >"$TMP/$name.exp"
	"$TMP/iospec-helper" --mnt "$MNT" --dev "$LOOP" --fstype "$fstype" \
		<"$TMP/$name.req" >"$TMP/$name.out" || {
		echo "helper exited with status $?"
		FAILS=$((FAILS + 1))
	}

	local nreq nout
	nreq=$(wc -l <"$TMP/$name.req")
	nout=$(wc -l <"$TMP/$name.out")
	if [ "$nreq" != "$nout" ]; then
		echo "FAIL: $nreq requests but $nout answers"
		FAILS=$((FAILS + 1))
	fi
	local i=0 req exp ans
	while IFS= read -r req; do
		i=$((i + 1))
		exp=$(sed -n "${i}p" "$TMP/$name.exp")
		ans=$(sed -n "${i}p" "$TMP/$name.out")
		TOTAL=$((TOTAL + 1))
		if printf '%s\n' "$ans" | grep -Eq -- "$exp"; then
			printf 'ok   %s\n' "$ans"
		else
			printf 'FAIL %s\n     request:  %s\n     expected: %s\n' "$ans" "$req" "$exp"
			FAILS=$((FAILS + 1))
		fi
	done <"$TMP/$name.req"
	teardown
}

# ----------------------------------------------------------------------
# mkfs.xfs from xfsprogs >= 5.19 refuses file systems < 300 MB, so the XFS
# image is 512 MiB (sparse; costs nothing).
run_case xfs xfs 512M mkfs.xfs -f -q <<'EOF'
step=1 op=open path=f fd=A flags=O_RDWR|O_CREAT ||| ^\{"step":1,"op":"open","ret":0\}$
step=2 op=pwrite fd=A offset=0 iov=4096:1:0 flags= ||| ^\{"step":2,"op":"pwrite","ret":4096\}$
step=3 op=pread fd=A offset=0 length=4096 bufoff=0 flags=0 ||| ^\{"step":3,"op":"pread","ret":4096,"data":\[\[1,4096\]\]\}$
step=4 op=statx fd=A mask=STATX_BASIC_STATS|STATX_DIOALIGN ||| ^\{"step":4,"op":"statx","ret":0,"statx":\{"size":4096,"blocks":[0-9]+,"dio_mem_align":[0-9]+,"dio_offset_align":[0-9]+\}\}$
step=5 op=open path=f fd=B flags=O_RDWR|O_DIRECT ||| ^\{"step":5,"op":"open","ret":0\}$
step=6 op=pwrite fd=B offset=0 iov=4096:2:1 flags= ||| ^\{"step":6,"op":"pwrite","errno":"EINVAL"\}$
step=7 op=pwrite fd=B offset=4096 iov=2048:2:0,2048:2:512 flags=RWF_DSYNC ||| ^\{"step":7,"op":"pwrite","ret":4096\}$
step=8 op=fsync fd=A ||| ^\{"step":8,"op":"fsync","ret":0\}$
step=9 op=fiemap fd=A ||| ^\{"step":9,"op":"fiemap","ret":0,"extents":\[\{"logical":0,"physical":[0-9]+,.*"FIEMAP_EXTENT_LAST"\]\}\]\}$
step=10 op=fallocate fd=A mode=FALLOC_FL_KEEP_SIZE offset=8192 length=8192 ||| ^\{"step":10,"op":"fallocate","ret":0\}$
step=11 op=fiemap fd=A ||| ^\{"step":11,"op":"fiemap","ret":0,"extents":\[.*"FIEMAP_EXTENT_UNWRITTEN".*\]\}$
step=12 op=open path=g fd=C flags=O_RDWR|O_CREAT ||| ^\{"step":12,"op":"open","ret":0\}$
step=13 op=clone fd=C src=A srcoffset=0 offset=0 length=8192 ||| ^\{"step":13,"op":"clone","ret":0\}$
step=14 op=fiemap fd=C length=8192 ||| ^\{"step":14,"op":"fiemap","ret":0,"extents":\[.*"FIEMAP_EXTENT_SHARED".*\]\}$
step=15 op=mmap_write fd=A offset=100 length=10 fill=7 ||| ^\{"step":15,"op":"mmap_write","ret":0\}$
step=16 op=mmap_write fd=A offset=1048576 length=1 fill=7 ||| ^\{"step":16,"op":"mmap_write","signal":"SIGBUS"\}$
step=17 op=pread fd=A offset=96 length=20 bufoff=3 ||| ^\{"step":17,"op":"pread","ret":20,"data":\[\[1,4\],\[7,10\],\[1,6\]\]\}$
step=18 op=statx fd=A mask=STATX_BASIC_STATS|STATX_WRITE_ATOMIC|STATX_DIO_READ_ALIGN ||| ^\{"step":18,"op":"statx","ret":0,"statx":\{"size":8192,"blocks":[0-9]+[,}]
step=19 op=pwrite fd=A offset=8192 iov=4096:3:0 flags= ||| ^\{"step":19,"op":"pwrite","ret":4096\}$
step=20 op=pwrite fd=Z offset=0 iov=1:1:0 flags= ||| ^\{"step":20,"op":"pwrite","errno":"EBADF"\}$
step=21 op=unsupported name=model_only ||| ^\{"step":21,"op":"model_only","unsupported":"model_only"\}$
step=22 op=pwrite fd=A offset=0 iov=4096:1 flags=RWF_BOGUS ||| ^\{"step":22,"op":"pwrite","error":"unknown flag 'RWF_BOGUS'"\}$
step=23 op=crash ||| ^\{"step":23,"op":"crash","ret":0\}$
step=24 op=pread fd=A offset=0 length=4096 ||| ^\{"step":24,"op":"pread","errno":"EIO"\}$
step=25 op=remount ||| ^\{"step":25,"op":"remount","ret":0\}$
step=26 op=pread fd=A offset=0 length=4096 ||| ^\{"step":26,"op":"pread","errno":"EBADF"\}$
step=27 op=open path=f fd=A flags=O_RDONLY ||| ^\{"step":27,"op":"open","ret":0\}$
step=28 op=pread fd=A offset=0 length=65536 ||| ^\{"step":28,"op":"pread","ret":(8192|12288),"data":\[\[1,[0-9]+\],.*\[2,4096\]
EOF

run_case ext4 ext4 256M mkfs.ext4 -F -q <<'EOF'
step=1 op=mkdir path=d/e ||| ^\{"step":1,"op":"mkdir","ret":0\}$
step=2 op=mkdir path=d/e ||| ^\{"step":2,"op":"mkdir","ret":0\}$
step=3 op=open path=d/e/f fd=A flags=O_RDWR|O_CREAT|O_EXCL ||| ^\{"step":3,"op":"open","ret":0\}$
step=4 op=pwrite fd=A offset=0 iov=4096:1:0 flags= ||| ^\{"step":4,"op":"pwrite","ret":4096\}$
step=5 op=pread fd=A offset=0 length=4096 bufoff=0 flags= ||| ^\{"step":5,"op":"pread","ret":4096,"data":\[\[1,4096\]\]\}$
step=6 op=statx fd=A mask=STATX_BASIC_STATS|STATX_DIOALIGN ||| ^\{"step":6,"op":"statx","ret":0,"statx":\{"size":4096,"blocks":[0-9]+,"dio_mem_align":[0-9]+,"dio_offset_align":[0-9]+\}\}$
step=7 op=open path=d/e/f fd=B flags=O_RDWR|O_DIRECT ||| ^\{"step":7,"op":"open","ret":0\}$
step=8 op=pwrite fd=B offset=0 iov=4096:2:1 flags= ||| ^\{"step":8,"op":"pwrite","errno":"EINVAL"\}$
step=9 op=open path=d/e/f fd=A flags=O_RDWR|O_EXCL|O_CREAT ||| ^\{"step":9,"op":"open","errno":"EEXIST"\}$
step=10 op=pread fd=A offset=0 length=1 ||| ^\{"step":10,"op":"pread","errno":"EBADF"\}$
step=11 op=open path=d/e/f fd=A flags=O_RDWR ||| ^\{"step":11,"op":"open","ret":0\}$
step=12 op=fsync fd=A ||| ^\{"step":12,"op":"fsync","ret":0\}$
step=13 op=fiemap fd=A ||| ^\{"step":13,"op":"fiemap","ret":0,"extents":\[\{"logical":0,"physical":[0-9]+,"length":4096,"flags":\["FIEMAP_EXTENT_LAST"\]\}\]\}$
step=14 op=clone fd=B src=A srcoffset=0 offset=0 length=4096 ||| ^\{"step":14,"op":"clone","errno":"EOPNOTSUPP"\}$
step=15 op=fallocate fd=A mode=FALLOC_FL_PUNCH_HOLE offset=0 length=4096 ||| ^\{"step":15,"op":"fallocate","errno":"EOPNOTSUPP"\}$
step=16 op=ftruncate fd=A length=8192 ||| ^\{"step":16,"op":"ftruncate","ret":0\}$
step=17 op=pread fd=A offset=4090 length=100 ||| ^\{"step":17,"op":"pread","ret":100,"data":\[\[1,6\],\[0,94\]\]\}$
step=18 op=encrypt_dir path=enc key=k1 log2dus=0 ||| ^\{"step":18,"op":"encrypt_dir","errno":"EOPNOTSUPP"\}$
step=19 op=fdatasync fd=A ||| ^\{"step":19,"op":"fdatasync","ret":0\}$
step=20 op=pwrite fd=A offset=8192 iov=4096:3:0 flags= ||| ^\{"step":20,"op":"pwrite","ret":4096\}$
step=21 op=crash ||| ^\{"step":21,"op":"crash","ret":0\}$
step=22 op=fsync fd=A ||| ^\{"step":22,"op":"fsync","errno":"EIO"\}$
step=23 op=remount ||| ^\{"step":23,"op":"remount","ret":0\}$
step=24 op=open path=d/e/f fd=A flags=O_RDONLY ||| ^\{"step":24,"op":"open","ret":0\}$
step=25 op=pread fd=A offset=0 length=65536 ||| ^\{"step":25,"op":"pread","ret":(8192|12288),"data":\[\[1,4096\],\[0,4096\]
step=26 op=sync ||| ^\{"step":26,"op":"sync","ret":0\}$
EOF

run_case ext4enc ext4 256M mkfs.ext4 -F -q -O encrypt,stable_inodes <<'EOF'
step=1 op=encrypt_dir path=enc key=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f log2dus=0 ||| ^\{"step":1,"op":"encrypt_dir","ret":0\}$
step=2 op=open path=enc/file fd=A flags=O_RDWR|O_CREAT ||| ^\{"step":2,"op":"open","ret":0\}$
step=3 op=pwrite fd=A offset=0 iov=8192:5:0 flags= ||| ^\{"step":3,"op":"pwrite","ret":8192\}$
step=4 op=fsync fd=A ||| ^\{"step":4,"op":"fsync","ret":0\}$
step=5 op=pread fd=A offset=0 length=8192 ||| ^\{"step":5,"op":"pread","ret":8192,"data":\[\[5,8192\]\]\}$
step=6 op=fiemap fd=A ||| ^\{"step":6,"op":"fiemap","ret":0,"extents":\[\{"logical":0,"physical":[0-9]+,"length":8192,"flags":\["FIEMAP_EXTENT_LAST"\]\}\]\}$
step=7 op=statx fd=A mask=STATX_BASIC_STATS|STATX_DIOALIGN ||| ^\{"step":7,"op":"statx","ret":0,"statx":\{"size":8192,"blocks":[0-9]+(,"dio_mem_align":[0-9]+,"dio_offset_align":[0-9]+)?\}\}$
step=8 op=encrypt_dir path=enc2 key=secondkey log2dus=0 flags=IV_INO_LBLK_32 ||| ^\{"step":8,"op":"encrypt_dir","ret":0\}$
step=9 op=open path=enc2/g fd=B flags=O_RDWR|O_CREAT ||| ^\{"step":9,"op":"open","ret":0\}$
step=10 op=pwrite fd=B offset=0 iov=4096:6:0,100:7:0 flags=RWF_SYNC ||| ^\{"step":10,"op":"pwrite","ret":4196\}$
step=11 op=encrypt_dir path=enc3 key=thirdkey log2dus=9 ||| ^\{"step":11,"op":"encrypt_dir","ret":0\}$
step=12 op=encrypt_dir path=enc4 key=k4 log2dus=0 flags=DIRECT_KEY ||| ^\{"step":12,"op":"encrypt_dir","errno":"EINVAL"\}$
step=13 op=remount ||| ^\{"step":13,"op":"remount","ret":0\}$
step=14 op=open path=enc/file fd=A flags=O_RDONLY ||| ^\{"step":14,"op":"open","ret":0\}$
step=15 op=pread fd=A offset=0 length=16384 ||| ^\{"step":15,"op":"pread","ret":8192,"data":\[\[5,8192\]\]\}$
step=16 op=open path=enc2/g fd=B flags=O_RDWR ||| ^\{"step":16,"op":"open","ret":0\}$
step=17 op=pwrite fd=B offset=4196 iov=100:8:0 flags= ||| ^\{"step":17,"op":"pwrite","ret":100\}$
step=18 op=fsync fd=B ||| ^\{"step":18,"op":"fsync","ret":0\}$
step=19 op=crash ||| ^\{"step":19,"op":"crash","ret":0\}$
step=20 op=remount ||| ^\{"step":20,"op":"remount","ret":0\}$
step=21 op=open path=enc2/g fd=B flags=O_RDONLY ||| ^\{"step":21,"op":"open","ret":0\}$
step=22 op=pread fd=B offset=0 length=8192 ||| ^\{"step":22,"op":"pread","ret":4296,"data":\[\[6,4096\],\[7,100\],\[8,100\]\]\}$
EOF

echo
if mount | grep -q -- "$TMP"; then
	echo "FAIL: a mount under $TMP is still present"
	FAILS=$((FAILS + 1))
fi
if losetup -a | grep -q -- "$TMP"; then
	echo "FAIL: a loop device backed by $TMP is still attached"
	FAILS=$((FAILS + 1))
fi
if [ "$FAILS" -eq 0 ]; then
	echo "PASS: $TOTAL answers checked, 0 failures"
else
	echo "FAILED: $FAILS failure(s) out of $TOTAL answers"
	exit 1
fi
