#!/usr/bin/env bash
# Build an xfs_io that has `pwrite -A` (RWF_ATOMIC; xfsprogs 6.12 or later) for the atomic-write
# fstests tests, when the distribution's xfsprogs is older (Debian 12 has 6.1).  It fetches
# Debian trixie's xfsprogs 6.13 source package (a deb-src line added for the download only, then
# removed), installs its build libraries with apt-get, and builds; nothing is installed over the
# system's xfsprogs.  About 3 minutes on 2 cores.  Prints the path of the xfs_io on its last line:
#
#   IOSPEC_XFS_IO=$(bash scripts/build-xfs-io.sh | tail -1) npm run test:fstests
#
#   build-xfs-io.sh [DIR]   DIR defaults to ~/.cache/iospec-xfsprogs
set -euo pipefail
dir=${1:-$HOME/.cache/iospec-xfsprogs}
mkdir -p "$dir"
cd "$dir"
if [ ! -x xfsprogs-6.13.0/io/xfs_io ]; then
  [ "$(id -u)" = 0 ] || { echo "build-xfs-io: needs root (apt-get)" >&2; exit 77; }
  if ! ls xfsprogs_6.13.0.orig.tar.xz >/dev/null 2>&1; then
    list=/etc/apt/sources.list.d/iospec-trixie-src.list
    trap 'rm -f "$list"; apt-get update -qq >/dev/null 2>&1 || true' EXIT
    echo "deb-src http://deb.debian.org/debian trixie main" >"$list"
    apt-get update -qq >/dev/null
    apt-get source --download-only xfsprogs/trixie >/dev/null 2>&1
    rm -f "$list"; trap - EXIT; apt-get update -qq >/dev/null 2>&1 || true
  fi
  tar xf xfsprogs_6.13.0.orig.tar.xz
  apt-get install -y -qq liburcu-dev libinih-dev uuid-dev libedit-dev libblkid-dev libdevmapper-dev libicu-dev pkg-config gettext >/dev/null
  (cd xfsprogs-6.13.0 && ./configure >"$dir/configure.log" 2>&1 && make -j"$(nproc)" >"$dir/make.log" 2>&1) \
    || { tail -20 "$dir/make.log" >&2; echo "build-xfs-io: build failed (logs in $dir)" >&2; exit 1; }
fi
"$dir/xfsprogs-6.13.0/io/xfs_io" -c "help pwrite" | grep -q -- ' -A' || { echo "build-xfs-io: the built xfs_io has no pwrite -A" >&2; exit 1; }
echo "$dir/xfsprogs-6.13.0/io/xfs_io"
