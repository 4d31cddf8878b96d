#!/usr/bin/env bash
# `make install DESTDIR=$tmp PREFIX=/usr` puts binaries, the BPF object (not
# the test-only ones of tc-progs/testing/), the systemd unit (ExecStart
# rewritten to /usr/bin), the example config and env file, and the man pages
# in place; the unit passes `systemd-analyze verify`
# against that tree; the installed config starts the installed daemon (in a
# private netns, loopback only) and its metrics answer; a second install
# keeps an edited config; `make uninstall` with the same arguments leaves no
# file behind (an edited config is kept, then removed by hand here).
. "$(dirname "$0")/lib.sh"
cd "$ROOT"
[ "$B" = build ] || { log "make install builds into build/; skipping for B=$B"; exit 0; }
tmp=$(mktemp -d /tmp/makeinstall.$$.XXXXXX)
NS=mi$$
at_exit "rm -rf '$tmp'"
args=(DESTDIR="$tmp" PREFIX=/usr)

make -s --no-print-directory install "${args[@]}" >"$tmp.log" 2>&1 || { cat "$tmp.log"; die "make install failed"; }
rm -f "$tmp.log"
for f in usr/bin/moq-relayd usr/bin/moq-relayctl usr/bin/moq-pub usr/bin/moq-sub usr/bin/moq-inspect \
	usr/bin/moq-relay-probe usr/lib/moq-relay/relay.bpf.o usr/lib/systemd/system/moq-relayd.service \
	etc/moq-relay/moq-relayd.conf etc/moq-relay/moq-relayd.env \
	usr/share/man/man8/moq-relayd.8 usr/share/man/man8/moq-relayctl.8 usr/share/man/man8/moq-relay-probe.8 \
	usr/share/man/man1/moq-pub.1 usr/share/man/man1/moq-sub.1 usr/share/man/man1/moq-inspect.1 \
	usr/share/moq-relay/web/player/index.html usr/share/moq-relay/web/player/player.js; do
	[ -s "$tmp/$f" ] || die "make install did not install /$f"
done
# test-only BPF programs (tc-progs/testing/) stay out of an install
for f in loss.bpf.o tstamp.bpf.o; do
	[ ! -e "$tmp/usr/lib/moq-relay/$f" ] || die "make install installed the test-only /usr/lib/moq-relay/$f"
done
[ -x "$tmp/usr/bin/moq-relayd" ] || die "moq-relayd not executable"
unit=$tmp/usr/lib/systemd/system/moq-relayd.service
grep -q '^ExecStart=/usr/bin/moq-relayd --config /etc/moq-relay/moq-relayd.conf' "$unit" ||
	{ grep ExecStart "$unit"; die "ExecStart not rewritten to PREFIX=/usr"; }
[ "$(stat -c %a "$unit")" = 644 ] || die "unit mode $(stat -c %a "$unit"), want 644"
[ "$(stat -c %a "$tmp/etc/moq-relay/moq-relayd.conf")" = 640 ] || die "config should be mode 640"
log "installed: $(find "$tmp" -type f | wc -l) files"

if command -v systemd-analyze >/dev/null; then
	# verify the installed unit with its ExecStart pointing into the tree
	# and man: references resolved through the installed pages
	mkdir -p "$tmp/verify"
	sed "s|=/usr/bin/|=$tmp/usr/bin/|" "$unit" >"$tmp/verify/moq-relayd.service"
	out=$(MANPATH="$tmp/usr/share/man" systemd-analyze verify "$tmp/verify/moq-relayd.service" 2>&1) ||
		{ echo "$out"; die "systemd-analyze verify failed"; }
	[ -z "$out" ] || { echo "$out"; die "systemd-analyze verify complained"; }
	rm -rf "$tmp/verify"
	log "systemd-analyze verify: ok"
fi

# the installed example config starts the installed daemon (TLS needs the
# cert/key it names: generate them, and override the control socket, which
# the unit's RuntimeDirectory would create)
ip netns add "$NS"
at_exit "ip netns del $NS"
ip -n "$NS" link set lo up
certtool --generate-privkey --key-type=ecdsa --outfile "$tmp/key.pem" 2>/dev/null
printf 'cn = "localhost"\nexpiration_days = 1\n' >"$tmp/tmpl"
certtool --generate-self-signed --load-privkey "$tmp/key.pem" --template "$tmp/tmpl" --outfile "$tmp/cert.pem" 2>/dev/null
nsenter --net="/run/netns/$NS" "$tmp/usr/bin/moq-relayd" --config "$tmp/etc/moq-relay/moq-relayd.conf" \
	--listen 127.0.0.1:4443 --cert "$tmp/cert.pem" --key "$tmp/key.pem" --ctl-socket none 2>"$tmp/relayd.log" &
pid=$!
at_exit "kill $pid 2>/dev/null"
wait_for 5 grep -q "listening on" "$tmp/relayd.log" || { cat "$tmp/relayd.log"; die "daemon did not start with the installed config"; }
nsenter --net="/run/netns/$NS" python3 tests/integration/metrics/scrape.py -o "$tmp/m.txt" http://127.0.0.1:9464/metrics >/dev/null &&
	grep -q '^moq_relay_sessions 0$' "$tmp/m.txt" ||
	die "metrics-listen of the example config does not answer"
kill -HUP $pid
wait_for 3 grep -q "SIGHUP: reloaded" "$tmp/relayd.log" || { cat "$tmp/relayd.log"; die "SIGHUP did not reload the installed config"; }
kill $pid
wait $pid || die "daemon exited with $? after SIGTERM"
log "example config: daemon started, metrics answered, SIGHUP reloaded, SIGTERM exited 0"

# reinstall keeps an edited config
echo "# local edit" >>"$tmp/etc/moq-relay/moq-relayd.conf"
make -s --no-print-directory install "${args[@]}" >/dev/null 2>&1 || die "second make install failed"
grep -q "# local edit" "$tmp/etc/moq-relay/moq-relayd.conf" || die "make install overwrote an existing config"

make -s --no-print-directory uninstall "${args[@]}" >"$tmp.log" 2>&1 || { cat "$tmp.log"; die "make uninstall failed"; }
grep -q "keeping .*moq-relayd.conf" "$tmp.log" || { cat "$tmp.log"; die "uninstall did not say it kept the edited config"; }
rm -f "$tmp.log"
rm -f "$tmp/etc/moq-relay/moq-relayd.conf" "$tmp"/*.pem "$tmp/tmpl" "$tmp/relayd.log" "$tmp/m.txt"
left=$(find "$tmp" \( -type f -o -type l \) | sed "s|^$tmp||")
[ -z "$left" ] || die "make uninstall left files: $left"
log "PASS make_install"
