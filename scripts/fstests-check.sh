#!/usr/bin/env bash
# npm run test:fstests — the known upstream findings as fstests tests, run by the real fstests
# ./check harness on this machine's kernel.
#
# Every scenario of every confirmed finding (`iospec findings`) is exported with
# `iospec export --fstests` into the harness's tests/<fs>/ directory, then `./check` runs them on
# loop devices (TEST_DEV and SCRATCH_DEV, 2 GiB sparse files), one file system at a time.  A
# finding's test must FAIL on a kernel with the bug, its .out.bad diff showing the lost or stale
# bytes; each file system's control tests (conformance scenarios of behaviour the kernel gets
# right) must pass.  Exit 0 when every test ran and did what it should, 1 when one did not, 3 when
# some could not run here (the harness's own _notrun, with its reason: an xfs_io too old for
# `pwrite -A`, for example), 77 when this machine cannot run any (not root, no loop devices, no
# fstests snapshot).
#
#   IOSPEC_FSTESTS_DIR  the fstests snapshot with build.sh (default ../shared/fstests)
#   IOSPEC_FSTESTS_FS   only these file systems (default: every one with a confirmed finding)
#   IOSPEC_XFS_IO       an xfs_io to run the tests with instead of the one on PATH: the atomic-write
#                       tests need `pwrite -A` (xfsprogs 6.12 or later); README.md says how to build one
#
# The harness build takes about 4 minutes the first time (build.sh caches it).  Everything this
# script makes (loop devices, mounts, test files in the harness) is removed on exit.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
snap=${IOSPEC_FSTESTS_DIR:-$root/../shared/fstests}
skip() { echo "fstests: skipped: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (loop devices and mounts)"
[ -x "$snap/build.sh" ] || skip "no fstests snapshot at $snap (set IOSPEC_FSTESTS_DIR)"
losetup -f >/dev/null 2>&1 || skip "no free loop device"

# Control tests per file system: conformance scenarios the kernel handles correctly.
declare -A CONTROL=(
  [xfs]="test/conformance/xfs-clone-dio-cow.json test/conformance/xfs-sync-clone-extends-ondisk-size.json"
  [ext4]="test/conformance/ext4-punch-truncate.json"
)

iospec() { node "$root/bin/iospec.mjs" "$@"; }
findings_json=$(iospec findings --json)

echo "fstests: building the harness (cached after the first time) ..."
src=$("$snap/build.sh" | tail -1)
[ -x "$src/check" ] || { echo "fstests: build failed: no $src/check" >&2; exit 1; }

work=$(mktemp -d /tmp/iospec-fstests.XXXXXX)
if [ -n "${IOSPEC_XFS_IO:-}" ]; then
  [ -x "$IOSPEC_XFS_IO" ] || { echo "fstests: IOSPEC_XFS_IO=$IOSPEC_XFS_IO is not an executable" >&2; exit 2; }
  mkdir -p "$work/bin" && ln -s "$(readlink -f "$IOSPEC_XFS_IO")" "$work/bin/xfs_io"
  export PATH="$work/bin:$PATH"
  echo "fstests: xfs_io is $IOSPEC_XFS_IO ($("$IOSPEC_XFS_IO" -V))"
fi
added=()
loops=()
cleanup() {
  for m in "$work/test" "$work/scratch"; do mountpoint -q "$m" 2>/dev/null && umount "$m"; done
  for l in "${loops[@]}"; do losetup -d "$l" 2>/dev/null || true; done
  for t in "${added[@]}"; do rm -f "$t" "$t.out" "$t.out.bad" "$t.full"; done
  for d in xfs ext4 btrfs; do (cd "$src/tests/$d" 2>/dev/null && ../../tools/mkgroupfile group.list >/dev/null 2>&1) || true; done
  rm -f "$src/local.config"
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

fss=${IOSPEC_FSTESTS_FS:-$(node -e 'const r = JSON.parse(process.argv[1]); console.log([...new Set(r.filter((f) => f.confirmed).map((f) => f.fs))].join(" "))' "$findings_json")}
status=0
nfail=0; npass=0; nnot=0
for fs in $fss; do
  # The tests: seq 990 on for the findings' scenarios, then the controls.
  seq=990
  declare -A expect_fail=()
  names=()
  while IFS='|' read -r id scenario; do
    [ -n "$id" ] || continue
    iospec export --fstests "$root/$scenario" --dir "$src/tests/$fs" --seq "$seq" >/dev/null
    added+=("$src/tests/$fs/$seq")
    names+=("$fs/$seq"); expect_fail["$fs/$seq"]="$id ($scenario)"
    seq=$((seq + 1))
  # A scenario with a device_error step is left out: the export cannot fail sectors (fstests's
  # dm-error could; not done), so it would judge nothing after that step (kernel runner only).
  done < <(node -e 'const [r, fs, root] = [JSON.parse(process.argv[1]), process.argv[2], process.argv[3]]; const de = (s) => JSON.parse(require("fs").readFileSync(`${root}/${s}`, "utf8")).steps.some((x) => x.op === "device_error"); for (const f of r) if (f.confirmed && f.fs === fs) for (const s of f.scenarios) { if (de(s)) console.error(`fstests: not exported: ${s} (device_error: the kernel runner only)`); else console.log(`${f.id}|${s}`) }' "$findings_json" "$fs" "$root")
  for scenario in ${CONTROL[$fs]:-}; do
    iospec export --fstests "$root/$scenario" --dir "$src/tests/$fs" --seq "$seq" >/dev/null
    added+=("$src/tests/$fs/$seq")
    names+=("$fs/$seq")
    echo "fstests: $fs/$seq is the control $scenario (must pass)"
    seq=$((seq + 1))
  done
  (cd "$src/tests/$fs" && ../../tools/mkgroupfile group.list >/dev/null)

  # Two loop devices; TEST_DEV holds a file system made beforehand, SCRATCH_DEV is the tests' own.
  mkdir -p "$work/test" "$work/scratch"
  truncate -s 2G "$work/test.img" "$work/scratch.img"
  tdev=$(losetup -f --show "$work/test.img"); loops+=("$tdev")
  sdev=$(losetup -f --show "$work/scratch.img"); loops+=("$sdev")
  case "$fs" in
    xfs) mkfs.xfs -f -q "$tdev" ;;
    ext4) mkfs.ext4 -F -q "$tdev" ;;
    btrfs) mkfs.btrfs -f -q "$tdev" ;;
  esac
  cat >"$src/local.config" <<EOF
export FSTYP=$fs
export TEST_DEV=$tdev
export TEST_DIR=$work/test
export SCRATCH_DEV=$sdev
export SCRATCH_MNT=$work/scratch
EOF
  echo "fstests: ./check ${names[*]} (FSTYP=$fs, TEST_DEV=$tdev, SCRATCH_DEV=$sdev)"
  set +e
  (cd "$src" && ./check "${names[@]}") 2>&1 | tee "$work/check-$fs.log"
  set -e
  for t in "${names[@]}"; do
    bad="$src/tests/$t.out.bad"
    [ -f "$src/results/$t.out.bad" ] && bad="$src/results/$t.out.bad"
    failed=0
    grep -Eq "^Failures:.*\b$t\b" "$work/check-$fs.log" && failed=1
    notrun=$(grep -E "^$t +([0-9]+s \.\.\. +)?\[not run\]" "$work/check-$fs.log" | sed 's/.*\[not run\] *//' || true)
    if [ -n "$notrun" ]; then
      echo "fstests: $t NOT RUN on this machine: $notrun${expect_fail[$t]:+ (it shows ${expect_fail[$t]})}"
      nnot=$((nnot + 1))
      [ $status = 1 ] || status=3
    elif [ -n "${expect_fail[$t]:-}" ]; then
      if [ $failed = 1 ]; then
        echo "fstests: $t FAILED, as it must on a kernel with ${expect_fail[$t]}; the damage:"
        diff -u "$src/tests/$t.out" "$bad" | sed 's/^/    /' || true
        nfail=$((nfail + 1))
      else
        echo "fstests: $t PASSED, but it shows ${expect_fail[$t]}: the kernel no longer has the bug, or the test does not show it"
        status=1
      fi
    elif [ $failed = 1 ]; then
      echo "fstests: control $t FAILED (it must pass):"; diff -u "$src/tests/$t.out" "$bad" | sed 's/^/    /' || true
      status=1
    else
      echo "fstests: control $t passed"
      npass=$((npass + 1))
    fi
  done
  for m in "$work/test" "$work/scratch"; do mountpoint -q "$m" && umount "$m"; done
  losetup -d "$tdev" "$sdev"; loops=()
  rm -f "$work/test.img" "$work/scratch.img"
  unset expect_fail
done
echo "fstests: $nfail finding test(s) failed as they must, $npass control(s) passed, $nnot test(s) not run here; exit $status"
exit $status
