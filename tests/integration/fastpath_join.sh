#!/usr/bin/env bash
# Joiners at many points of a live track on the fast path (issue 14 item 7):
# moq-pub sends 1,500 objects/s, 20 per group in 2 subgroups (a stream
# each); JOINERS subscribers (default 24) join with the Next Group Start
# filter, one every ~120 ms, alternating between two subscriber hosts, and
# stay until the track ends. Each must get every object from its first
# group to the end: whole groups only (a joiner that missed subgroup 0 of
# its first group has half a group), nothing missing, every stream its
# PUBLISH_DONE counts. FP_JOIN_USERSPACE=1 runs it on the userspace relay.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/relay/common.sh"
relay_tools_check
testbed_up 2
N=${JOINERS:-24}
if [ "${FP_JOIN_USERSPACE:-0}" = 1 ]; then
	start_relay relay relay --listen 0.0.0.0:4443 --plaintext --log-level info --stats-interval 0
else
	. "$(dirname "$0")/relay/fastpath.sh"
	fp_attach
	fp_relay relay --listen 0.0.0.0:4443 --plaintext --log-level info --stats-interval 0 \
		--ctl-socket none
fi
# the track lasts long enough for every joiner: ~(N * 0.12 + 1.5) s, x2.5
# (x1.5 was too little under load: starting 24 moq-sub processes took
# longer than the track and the last joiners found it ended)
COUNT=$(((N * 120 + 1500) * 5 / 2 / 20 * 20))
start_pub pub pub --plaintext --namespace j --track t --count "$COUNT" --rate 1500 \
	--objects-per-group 20 --subgroups-per-group 2 "$RELAY_IP4:4443"
wait_announce relay
# one subscriber from the start (the track begins with it)
start_sub first sub1 --plaintext --namespace j --track t "$RELAY_IP4_SUB_1:4443"
pids=("$SUB_PID")
sleep 0.5
for i in $(seq 1 "$N"); do
	h=$((i % 2 + 1))
	v=RELAY_IP4_SUB_$h
	start_sub "j$i" "sub$h" --plaintext --namespace j --track t --filter next-group "${!v}:4443"
	pids+=("$SUB_PID")
	sleep 0.12
done
for p in "${pids[@]}"; do wait_exit "$p" 30 subscriber; done
kill -0 "$RELAY_PID" 2>/dev/null || die "the relay died"
bad=0
for i in first $(seq 1 "$N"); do
	[ "$i" = first ] && n=first || n=j$i
	f=$TMP/$n.json
	[ -s "$f" ] || { tail -3 "$TMP/$n.log" >&2; die "$n: no JSON summary"; }
	got=$(jget "$f" .objects_received)
	sg0=$(jget "$f" '.tracks[0].subgroup_objects[0]')
	sg1=$(jget "$f" '.tracks[0].subgroup_objects[1]')
	if [ "$(jget "$f" .objects_missing)" != 0 ] || [ "$(jget "$f" .integrity_errors)" != 0 ] ||
		[ "$got" = 0 ] || [ $((got % 20)) != 0 ] || [ "$sg0" != "$sg1" ] ||
		[ "$(jget "$f" .groups_complete)" != $((got / 20)) ] ||
		[ "$(jget "$f" '.tracks[0].streams')" != "$(jget "$f" '.tracks[0].publish_done_streams')" ]; then
		echo "$n: $got objects (subgroup 0: $sg0, subgroup 1: $sg1), missing $(jget "$f" .objects_missing), $(jget "$f" .groups_complete) groups complete, streams $(jget "$f" '.tracks[0].streams') of $(jget "$f" '.tracks[0].publish_done_streams')" >&2
		bad=$((bad + 1))
	fi
done
[ $bad = 0 ] || die "$bad of $((N + 1)) subscribers lack objects their filter promises"
[ "$(jget "$TMP/first.json" .objects_received)" = "$COUNT" ] ||
	die "the first subscriber got $(jget "$TMP/first.json" .objects_received) of $COUNT objects"
log "$N joiners at many points of the track: each got every object from its first group on"
[ "${FP_JOIN_USERSPACE:-0}" = 1 ] && log "PASS relay_join_points" || log "PASS fastpath_join"
