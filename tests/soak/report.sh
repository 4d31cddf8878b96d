# tests/soak/report.sh - sourced by soak.sh at the end of a run: classifies
# the finished sessions, gathers the machine and build facts, writes the
# markdown report ($OUT) and the plot ($PNG) with tests/soak/report.py and
# gnuplot, and exits with the verdict (0 pass, 1 a bound failed).

soak_report() {
	local meta=$TMP/meta.json ses=$TMP/sessions.classified.jsonl gp=$TMP/plot.gp rc
	jq -c "$JQ_CLASS {seat, n, rc, stay, stopped, err, class: cls,
		test_received: ([tr(\"test\")[].objects_received] | add // 0),
		test_missing: ([tr(\"test\")[].objects_missing] | add // 0),
		dgram_received: ([tr(\"dgram\")[].objects_received] | add // 0),
		dgram_missing: ([tr(\"dgram\")[].objects_missing] | add // 0),
		p99_us: .sub.latency_us.p99, t1}" "$RESULTS" >"$ses"
	tail -n +2 "$CSV" >"$TMP/plot.dat"

	local cpu mem
	cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
	mem=$(awk '/^MemTotal/{printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
	local -a facts=(
		"date (UTC)" "$(date -u -d "@$T0" +'%F %T') .. $(date -u +'%F %T')"
		"machine" "$(nproc) vCPU ($cpu), $mem RAM, shared with other jobs (load average at the end: $(cut -d' ' -f1-3 /proc/loadavg))"
		"kernel" "$(uname -r)"
		"build" "$BUILD_FACT"
		"relay" "$(basename "$RELAYD") from $B/, --fast-path on, maps pinned under a private root"
		"settings" "duration ${DURATION} s, sample every ${INTERVAL} s, $NSUBS subscribers on $HOSTS hosts, stay ${MIN_STAY}..${MAX_STAY} s, loss ${LOSS}% both ways, $RATE objects/s x $OBJSIZE B, $OPG objects/group, 2 subgroups$([ "$DATAGRAM" = 1 ] && echo ", + datagram track")"
		"relay exit" "status $RELAY_EXIT after SIGTERM at the end$(case "$B" in *san*) echo " (sanitizer build: ${SAN_SUMMARY:-no sanitizer report})" ;; esac)"
		"load bounds" "RSS growth over the second half < $RSS_BOUND kB; subgroup objects missing <= $MISS_BOUND%"
	)
	local f=() i
	for ((i = 0; i < ${#facts[@]}; i += 2)); do
		f+=("$(jq -nc --arg k "${facts[i]}" --arg v "${facts[i + 1]}" '[$k, $v]')")
	done
	# relay warn/error lines by kind (numbers masked), most frequent first
	grep -aE '^(warn|error) ' "$TMP/relay.log" | sed -E 's/ (session|peer|track)=.*//; s/[0-9]+/N/g' |
		sort | uniq -c | sort -rn | head -12 | jq -Rc 'capture("^ *(?<n>[0-9]+) (?<kind>.*)$") | [(.n | tonumber), .kind]' |
		jq -sc . >"$TMP/warn_kinds.json"
	local cap="{}" m c
	for m in "${MAPS[@]}"; do
		c=$(bpftool -j map show pinned "$FP_PIN/$m" 2>/dev/null | jq -r '.max_entries // empty')
		[ -z "$c" ] || cap=$(jq -c --arg m "$m" --argjson c "$c" '. + {($m): $c}' <<<"$cap")
	done
	jq -n --argjson duration "$DURATION" --argjson interval "$INTERVAL" --argjson subscribers "$NSUBS" \
		--argjson hosts "$HOSTS" --argjson rate "$RATE" --argjson object_size "$OBJSIZE" --argjson opg "$OPG" \
		--arg loss "$LOSS" --argjson min_stay "$MIN_STAY" --argjson max_stay "$MAX_STAY" \
		--argjson datagram "$([ "$DATAGRAM" = 1 ] && echo true || echo false)" \
		--argjson rss_bound_kb "$RSS_BOUND" --argjson stream_missing_bound_pct "$MISS_BOUND" \
		--arg command "$CMDLINE" --arg png "$PNG" --arg png_name "$(basename "$PNG")" \
		--arg plot_data "$TMP/plot.dat" --argjson t0 "$T0" --arg san "$SAN_SUMMARY" \
		--argjson relay_exit "$RELAY_EXIT" \
		--argjson maps "$(printf '%s\n' "${MAPS[@]}" | jq -R . | jq -sc .)" \
		--argjson columns "$(head -1 "$CSV" | tr ',' '\n' | jq -R . | jq -sc .)" \
		--argjson facts "[$(
			IFS=,
			echo "${f[*]}"
		)]" \
		--argjson capacity "$cap" --slurpfile warn_kinds "$TMP/warn_kinds.json" \
		'{duration: $duration, interval: $interval, subscribers: $subscribers, hosts: $hosts, rate: $rate,
		  object_size: $object_size, opg: $opg, loss: $loss, min_stay: $min_stay, max_stay: $max_stay,
		  datagram: $datagram, rss_bound_kb: $rss_bound_kb, stream_missing_bound_pct: $stream_missing_bound_pct,
		  command: $command, t0: $t0, san: $san, relay_exit: $relay_exit, png: $png, png_name: $png_name, plot_data: $plot_data, maps: $maps,
		  columns: $columns, facts: $facts, capacity: $capacity, warn_kinds: $warn_kinds[0]}' >"$meta" || die "report: cannot write $meta"
	python3 "$ROOT/tests/soak/report.py" "$meta" "$CSV" "$ses" "$OUT" "$gp"
	rc=$?
	[ $rc -le 1 ] || die "report: tests/soak/report.py failed ($rc)"
	gnuplot "$gp" || log "warning: gnuplot failed; no $PNG"
	log "report: $OUT, plot: $PNG"
	if [ $rc = 0 ]; then log "PASS: memory flat, maps back to baseline, no errors"; else log "FAIL: see the verdict above and $OUT"; fi
	return $rc
}
