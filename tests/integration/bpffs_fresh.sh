#!/usr/bin/env bash
# A host that booted without a bpffs at /sys/fs/bpf (a fresh Debian VM
# without systemd), made here by unmounting it in a private mount namespace
# (unshare -m; the host's own mounts are never touched):
#  - moq-relayd --fast-path on refuses to start (exit 2) and names the mount
#    command, instead of failing on a missing pin;
#  - moq-relayctl reports the same in its maps error;
#  - the fast-path live test (fastpath_live.sh) then passes in that
#    namespace: the project mounts the bpffs it needs itself;
#  - the outer namespace's /sys/fs/bpf is as it was.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=${B:-build}
case "$B" in /*) BIN=$B/bin ;; *) BIN=$ROOT/$B/bin ;; esac
die() { echo "FAIL: $*" >&2; exit 1; }
log() { echo "[$(date +%T)] $*"; }
[ "$(id -u)" = 0 ] || die "needs root (mount namespaces, BPF)"
. "$ROOT/netns/bpffs.sh"

if [ -z "${MOQ_BPFFS_FRESH_INNER:-}" ]; then
	before=$(stat -f -c %t /sys/fs/bpf)
	MOQ_BPFFS_FRESH_INNER=1 unshare -m --propagation private bash "$0" "$@"
	after=$(stat -f -c %t /sys/fs/bpf)
	[ "$before" = "$after" ] || die "the outer /sys/fs/bpf changed ($before -> $after)"
	log "outer /sys/fs/bpf untouched (magic $after)"
	echo "PASS"
	exit 0
fi

# ---- inside: the fresh machine's view -------------------------------------
while umount -l /sys/fs/bpf 2>/dev/null; do :; done
moq_is_bpffs /sys/fs/bpf && die "/sys/fs/bpf is still a bpffs after umount"
log "private mount namespace: /sys/fs/bpf is $(stat -f -c %T /sys/fs/bpf), not a bpffs"

TMP=$(mktemp -d /tmp/moq-bpffs.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
port=$((20000 + $$ % 20000))
rc=0
timeout 10 "$BIN/moq-relayd" --listen "127.0.0.1:$port" --plaintext --fast-path on \
	>"$TMP/relayd.out" 2>&1 || rc=$?
cat "$TMP/relayd.out"
[ "$rc" = 2 ] || die "moq-relayd --fast-path on without a bpffs exited $rc, expected 2 (configuration error)"
grep -q "not on a BPF filesystem" "$TMP/relayd.out" || die "moq-relayd does not say the bpffs is missing"
grep -q "mount -t bpf bpf /sys/fs/bpf" "$TMP/relayd.out" || die "moq-relayd does not name the mount command"
grep -q "attach the programs again" "$TMP/relayd.out" || die "moq-relayd does not say to re-attach"
log "moq-relayd: exit 2 with the mount command"

rc=0
"$BIN/moq-relayctl" --socket "$TMP/none.sock" --json status >"$TMP/ctl.json" 2>"$TMP/ctl.err" || rc=$?
cat "$TMP/ctl.json" "$TMP/ctl.err"
[ "$rc" != 0 ] || die "moq-relayctl status without daemon and maps exited 0"
grep -q "mount -t bpf bpf /sys/fs/bpf" "$TMP/ctl.json" "$TMP/ctl.err" ||
	die "moq-relayctl does not name the mount command"
log "moq-relayctl: maps error names the mount command"

log "fastpath_live.sh in this namespace (it must mount the bpffs itself)"
(cd "$ROOT" && B=$B bash tests/integration/fastpath_live.sh) >"$TMP/live.log" 2>&1 || {
	tail -30 "$TMP/live.log"
	die "fastpath_live.sh failed on a host without a bpffs"
}
tail -3 "$TMP/live.log"
moq_is_bpffs /sys/fs/bpf || die "fastpath_live.sh passed but /sys/fs/bpf is no bpffs"
log "fastpath_live.sh passed; /sys/fs/bpf is now a bpffs (private to this namespace)"
