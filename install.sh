#!/usr/bin/env bash
# Install everything moq-relay needs on Debian 12, then build.
#
#   ./install.sh            install packages (as root, via apt) and build
#   ./install.sh --no-deps  skip apt, only build
#   ./install.sh --no-build install packages, do not build
#   ./install.sh --check    exit 0 if every dependency is present, 1 otherwise
set -euo pipefail
cd "$(dirname "$0")"

PACKAGES=(
	build-essential make pkg-config git
	clang llvm libclang-rt-14-dev         # BPF objects, libFuzzer, sanitizers
	libbpf-dev bpftool                    # BPF loading and pinned maps
	libmnl-dev                            # netlink (neighbour resolution)
	libgnutls28-dev gnutls-bin            # TLS (ngtcp2 itself: BACKPORTS below)
	check                                 # unit tests
	iproute2 ethtool util-linux procps iputils-ping  # testbed: ip, tc, nsenter, ping
	ffmpeg                                # real H.264 media for tests and demo
	gnuplot-nox                           # benchmark plots
	strace time                           # syscall counts and CPU in benchmarks
	linux-perf                            # perf record/stat in bench/profile.sh
	python3                               # packet crafting in the live fast-path test
	python3-cryptography                  # TLS residence bench: offline QUIC decryption (bench/residence_tls.py)
	jq                                    # JSON summaries in the relay tests and demo
	groff-base man-db                     # man page checks (tests/integration/man_pages.sh)
	clang-format                          # make check's format check (tests/format_check.sh)
	chromium python3-websocket            # browser test: headless Chromium over DevTools (docs/webtransport.md)
)
# ngtcp2 >= 1.11 (QUIC; Debian 12 itself has 0.12.1) and nghttp3 >= 1.8
# (HTTP/3 for WebTransport; Debian 12 has 0.8.0): from the official
# bookworm-backports suite, which install.sh enables. Nothing else comes from
# there (docs/dependencies.md).
BACKPORTS=(libngtcp2-dev libngtcp2-crypto-gnutls-dev libnghttp3-dev)
NGTCP2_MIN=1.11
NGHTTP3_MIN=1.8
PKGCONFIG_MODULES=(libbpf libngtcp2 libngtcp2_crypto_gnutls libnghttp3 gnutls libmnl check)
COMMANDS=(clang clang-format llc bpftool tc ip nsenter ethtool ping ffmpeg ffprobe gnuplot strace perf pkg-config certtool python3 jq groff man chromium)

have_all() {
	local m c
	for m in "${PKGCONFIG_MODULES[@]}"; do
		pkg-config --exists "$m" 2>/dev/null || { echo "missing pkg-config module: $m"; return 1; }
	done
	for m in libngtcp2 libngtcp2_crypto_gnutls; do
		pkg-config --atleast-version="$NGTCP2_MIN" "$m" ||
			{ echo "$m $(pkg-config --modversion "$m") is older than $NGTCP2_MIN (bookworm-backports has it)"; return 1; }
	done
	pkg-config --atleast-version="$NGHTTP3_MIN" libnghttp3 ||
		{ echo "libnghttp3 $(pkg-config --modversion libnghttp3) is older than $NGHTTP3_MIN (bookworm-backports has it)"; return 1; }
	/usr/bin/python3 -c 'import websocket' 2>/dev/null || { echo "missing python3 module websocket (python3-websocket)"; return 1; }
	/usr/bin/python3 -c 'import cryptography' 2>/dev/null || { echo "missing python3 module cryptography (python3-cryptography)"; return 1; }
	for c in "${COMMANDS[@]}"; do
		command -v "$c" >/dev/null 2>&1 || [ -x "/usr/sbin/$c" ] || { echo "missing command: $c"; return 1; }
	done
	[ -x /usr/bin/time ] || { echo "missing /usr/bin/time (package time)"; return 1; }
	[ -e /usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.fuzzer-x86_64.a ] ||
		ls /usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1 ||
		{ echo "missing libFuzzer runtime (libclang-rt-14-dev)"; return 1; }
}

# Debian 12: make sure bookworm-backports is an apt source (the entry Debian
# documents, on the mirror the system already uses) and print its name.
# Other releases (13 ships ngtcp2 1.11) need no backports: print nothing.
enable_backports() {
	local codename uri f=/etc/apt/sources.list.d/bookworm-backports.sources
	# shellcheck disable=SC1091
	codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
	[ "$codename" = bookworm ] || return 0
	if ! grep -rqsE '^[^#]*bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
		# shellcheck disable=SC2016 # apt's own $(FIELD) syntax
		uri=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 2>/dev/null |
			awk '$2 == "bookworm" { print $1; exit }')
		uri=${uri:-http://deb.debian.org/debian/}
		echo "install.sh: adding bookworm-backports ($uri) in $f" >&2
		cat >"$f" <<-EOT
			Types: deb
			URIs: ${uri%/}
			Suites: bookworm-backports
			Components: main
			Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
		EOT
	fi
	echo bookworm-backports
}

deps=1 build=1
for arg in "$@"; do
	case "$arg" in
	--no-deps) deps=0 ;;
	--no-build) build=0 ;;
	--check) have_all; exit $? ;;
	-h|--help) sed -n '2,8p' "$0"; exit 0 ;;
	*) echo "install.sh: unknown option '$arg' (see --help)" >&2; exit 2 ;;
	esac
done

if [ "$deps" = 1 ]; then
	if have_all >/dev/null 2>&1; then
		echo "install.sh: all dependencies present"
	else
		if [ "$(id -u)" != 0 ]; then
			echo "install.sh: packages are missing and installing them needs root; run 'sudo ./install.sh'" >&2
			exit 1
		fi
		bp=$(enable_backports)
		echo "install.sh: apt-get update"
		apt-get update -q
		echo "install.sh: apt-get install ${PACKAGES[*]}"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${PACKAGES[@]}"
		echo "install.sh: apt-get install ${bp:+-t $bp }${BACKPORTS[*]}"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
			${bp:+-t "$bp"} "${BACKPORTS[@]}"
		have_all || { echo "install.sh: dependencies still missing after apt-get install" >&2; exit 1; }
	fi
fi

# The fast path's maps are pinned under /sys/fs/bpf: a host that boots
# without systemd has no bpffs there (tc then pins nothing, silently). This
# mount lasts until reboot; docs/operating.md says how to make it permanent.
if [ "$(id -u)" = 0 ]; then
	. netns/bpffs.sh
	moq_ensure_bpffs /sys/fs/bpf || echo "install.sh: warning: no BPF filesystem at /sys/fs/bpf; the fast path and its tests need one" >&2
fi

if [ "$build" = 1 ]; then
	echo "install.sh: building (make all)"
	make -j"$(nproc)" all
fi
echo "install.sh: done"
