# netns/bpffs.sh - make sure a BPF filesystem is mounted where the fast path
# pins its maps. Source it, then:
#
#   moq_ensure_bpffs [DIR]   DIR (default /sys/fs/bpf) on a bpffs, or mount
#                            one there; idempotent; returns 1 with a message
#                            on stderr when it cannot
#   moq_is_bpffs DIR         true when DIR is on a bpffs (statfs magic)
#
# A Debian VM that boots without systemd has nothing at /sys/fs/bpf: tc then
# may attach programs that pin nothing (each filter gets private maps) and
# the daemon finds no maps. The check is the filesystem's magic number
# (BPF_FS_MAGIC 0xcafe4a11 from statfs), not the directory existing: on such
# a host /sys/fs/bpf exists, as an empty sysfs directory.

MOQ_BPF_FS_MAGIC=cafe4a11

moq_is_bpffs() {
	[ "$(stat -f -c %t "$1" 2>/dev/null)" = "$MOQ_BPF_FS_MAGIC" ]
}

moq_ensure_bpffs() {
	local d=${1:-/sys/fs/bpf}
	moq_is_bpffs "$d" && return 0
	if [ "$(id -u)" != 0 ]; then
		echo "bpffs: $d is not a BPF filesystem and mounting one needs root: run 'sudo mount -t bpf bpf $d'" >&2
		return 1
	fi
	mkdir -p "$d" 2>/dev/null || true
	if ! mount -t bpf bpf "$d"; then
		echo "bpffs: cannot mount a BPF filesystem at $d (kernel without CONFIG_BPF_SYSCALL, or not allowed in this container?); the fast path needs one: 'mount -t bpf bpf $d'" >&2
		return 1
	fi
	moq_is_bpffs "$d" || {
		echo "bpffs: mounted at $d but statfs still does not report a bpffs" >&2
		return 1
	}
	echo "bpffs: mounted a BPF filesystem at $d (none was there)" >&2
}
