#!/usr/bin/env bash
# moq-inspect end to end (no root needed): for every control message, every
# data-plane form and varints, hex fixtures -> decode -> check JSON fields ->
# encode -> identical hex; malformed and truncated input give the error
# object and exit 1; bad options exit 2.
#
#   B=build tests/integration/moq_inspect.sh      (B=build-san for ASan)
set -uo pipefail
cd "$(dirname "$0")/../.."
B=${B:-build}
T=$B/bin/moq-inspect
[ -x "$T" ] || { echo "FAIL: $T not built (make $T)"; exit 1; }

pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }

norm() { tr -d ' \n\t' | tr 'A-F' 'a-f'; }

# vi64 of a value 0..16383 (what the fixtures need for types and lengths)
vi() {
	if [ "$1" -lt 128 ]; then printf '%02x' "$1"; else printf '%04x' $((0x8000 | $1)); fi
}

# ctrl TYPEHEX PAYLOADHEX: a framed control message (type vi64, 16-bit length)
ctrl() {
	local p
	p=$(echo "$2" | norm)
	printf '%s%04x%s' "$(vi $((16#$1)))" $((${#p} / 2)) "$p"
}

# roundtrip NAME KIND HEX [OPTS...]: decode must succeed, the JSON is left in
# $out; encoding it again must give the same bytes.
roundtrip() {
	local name=$1 kind=$2 hex=$3 enc rc
	shift 3
	out=$(echo "$hex" | "$T" --kind "$kind" --hex "$@")
	rc=$?
	if [ $rc -ne 0 ]; then
		bad "$name: decode exit $rc: $out"
		out=
		return 1
	fi
	enc=$(echo "$out" | "$T" --encode --hex "$@" 2>&1)
	rc=$?
	if [ $rc -ne 0 ]; then
		bad "$name: encode exit $rc: $enc"
		return 1
	fi
	if [ "$(echo "$enc" | norm)" != "$(echo "$hex" | norm)" ]; then
		bad "$name: round trip differs: in $(echo "$hex" | norm) out $(echo "$enc" | norm)"
		return 1
	fi
	ok "$name: decode -> encode round trip"
}

# has NAME STRING...: every STRING occurs in $out (fixed strings)
has() {
	local name=$1 s
	shift
	for s in "$@"; do
		if ! grep -qF -- "$s" <<<"$out"; then
			bad "$name: output lacks $s"
			echo "     output: $out"
			return 1
		fi
	done
	ok "$name: fields"
}

# fails NAME KIND HEX ERRKIND [OFFSET] [OPTS...]: exit 1 with the error object
fails() {
	local name=$1 kind=$2 hex=$3 ek=$4 off=${5:-} o rc
	shift 4
	[ $# -gt 0 ] && shift
	o=$(echo "$hex" | "$T" --kind "$kind" --hex "$@")
	rc=$?
	local last
	last=$(tail -n1 <<<"$o")
	if [ $rc -ne 1 ]; then
		bad "$name: exit $rc, want 1 ($o)"
	elif ! grep -qE "^\{\"error\":\"$ek\",\"offset\":[0-9]+,\"reason\":\".+\"\}$" <<<"$last"; then
		bad "$name: last line is not an $ek error object: $last"
	elif [ -n "$off" ] && ! grep -qF "\"offset\":$off," <<<"$last"; then
		bad "$name: error offset is not $off: $last"
	else
		ok "$name: $ek error, exit 1"
	fi
}

# usage NAME ARGS...: exit 2 with a message on stderr
usage() {
	local name=$1 e rc
	shift
	e=$("$T" "$@" </dev/null 2>&1 >/dev/null)
	rc=$?
	if [ $rc -eq 2 ] && [ -n "$e" ]; then ok "$name: exit 2 ($e)" | head -1
	else bad "$name: exit $rc, stderr '$e'"; fi
}

# ---- control messages ----------------------------------------------------------

SETUP=$(ctrl 2f00 '01 04 2f6d6f71  02 06 01 05 00 746f6b  01 8400
	01 0b 6578616d706c652e636f6d  02 08 6d6f712d74657374  35 05')
roundtrip SETUP control "$SETUP"
has SETUP '"type":"SETUP"' '{"name":"PATH","type":1,"value":"/moq"}' \
	'{"name":"AUTHORIZATION_TOKEN","type":3,"value":{"alias_type":1,"alias_type_name":"REGISTER","token_alias":5,"token_type":0,"token_value":"tok"}}' \
	'{"name":"MAX_AUTH_TOKEN_CACHE_SIZE","type":4,"value":1024}' \
	'"value":"example.com"' '"value":"moq-test"' '{"type":60,"value":5}'

GOAWAY=$(ctrl 10 '10 6d6f71743a2f2f622e6578616d706c65  8bb8  04')
roundtrip GOAWAY control "$GOAWAY"
has GOAWAY '"type":"GOAWAY"' '"new_session_uri":"moqt://b.example"' \
	'"timeout":3000' '"request_id":4'

SUBSCRIBE=$(ctrl 03 '00  02 04 6c697665 04 63616d31  05 766964656f
	05  03 05 0300616263  0d 01  10 07  01 04 04010203  01 02')
roundtrip SUBSCRIBE control "$SUBSCRIBE"
has SUBSCRIBE '"type":"SUBSCRIBE","offset":0' '"request_id":0' \
	'"track_namespace":["live","cam1"]' '"track_name":"video"' \
	'"full_track_name":"live-cam1--video"' \
	'{"name":"AUTHORIZATION_TOKEN","type":3,"value":{"alias_type":3,"alias_type_name":"USE_VALUE","token_type":0,"token_value":"abc"}}' \
	'{"name":"FORWARD","type":16,"value":1}' \
	'{"name":"SUBSCRIBER_PRIORITY","type":32,"value":7}' \
	'{"name":"SUBSCRIPTION_FILTER","type":33,"value":{"filter_type":4,"filter_type_name":"ABSOLUTE_RANGE","start_location":{"group":1,"object":2},"end_group_delta":3}}' \
	'{"name":"GROUP_ORDER","type":34,"value":2}'

SUBSCRIBE_OK=$(ctrl 04 '09  02 08 00 01 05 02  0e 8080 14 01')
roundtrip SUBSCRIBE_OK control "$SUBSCRIBE_OK"
has SUBSCRIBE_OK '"type":"SUBSCRIBE_OK"' '"track_alias":9' \
	'{"name":"EXPIRES","type":8,"value":0}' \
	'{"name":"LARGEST_OBJECT","type":9,"value":{"group":5,"object":2}}' \
	'"track_properties":[{"type":14,"name":"DEFAULT_PUBLISHER_PRIORITY","value":128},{"type":34,"name":"DEFAULT_PUBLISHER_GROUP_ORDER","value":1}]'

REQUEST_UPDATE=$(ctrl 02 '02  02 20 05 12 00')
roundtrip REQUEST_UPDATE control "$REQUEST_UPDATE"
has REQUEST_UPDATE '"type":"REQUEST_UPDATE"' '"request_id":2' \
	'{"name":"SUBSCRIBER_PRIORITY","type":32,"value":5}' \
	'{"name":"NEW_GROUP_REQUEST","type":50,"value":0}'

REQUEST_UPDATE_NS=$(ctrl 02 '04  01 34 02 03 616263 01 78')
roundtrip REQUEST_UPDATE/prefix control "$REQUEST_UPDATE_NS"
has REQUEST_UPDATE/prefix '{"name":"TRACK_NAMESPACE_PREFIX","type":52,"value":["abc","x"]}'

PUBLISH=$(ctrl 1d '01  02 04 6d656574 06 726f6f6d3d31  05 617564696f  03
	02 09 0a 00 07 00  30 01')
roundtrip PUBLISH control "$PUBLISH"
has PUBLISH '"type":"PUBLISH"' '"request_id":1' \
	'"track_namespace":["meet","room=1"]' '"track_name":"audio"' \
	'"track_alias":3' '{"name":"LARGEST_OBJECT","type":9,"value":{"group":10,"object":0}}' \
	'{"name":"FORWARD","type":16,"value":0}' \
	'"track_properties":[{"type":48,"name":"DYNAMIC_GROUPS","value":1}]'

PUBLISH_OK=$(ctrl 1e '01 20 03')
roundtrip PUBLISH_OK control "$PUBLISH_OK"
has PUBLISH_OK '"type":"PUBLISH_OK"' \
	'"parameters":[{"name":"SUBSCRIBER_PRIORITY","type":32,"value":3}]' \
	'"track_properties":[]'

PUBLISH_DONE=$(ctrl 0b '02 05 04 646f6e65')
roundtrip PUBLISH_DONE control "$PUBLISH_DONE"
has PUBLISH_DONE '"type":"PUBLISH_DONE"' '"status_code":2' \
	'"status_code_name":"TRACK_ENDED"' '"stream_count":5' '"error_reason":"done"'

FETCH=$(ctrl 16 '04 01  01 04 6c697665  05 766964656f  01 00  03 00
	02 0a 64 18 02')
roundtrip FETCH/standalone control "$FETCH"
has FETCH/standalone '"type":"FETCH"' '"request_id":4' '"fetch_type":1' \
	'"fetch_type_name":"STANDALONE"' '"track_namespace":["live"]' \
	'"start_location":{"group":1,"object":0}' \
	'"end_location":{"group":3,"object":0}' \
	'{"name":"FILL_TIMEOUT","type":10,"value":100}' \
	'{"name":"GROUP_ORDER","type":34,"value":2}'

FETCH_J=$(ctrl 16 '06 02 00 02 00')
roundtrip FETCH/joining control "$FETCH_J"
has FETCH/joining '"fetch_type":2' '"fetch_type_name":"RELATIVE_JOINING"' \
	'"joining_request_id":0' '"joining_start":2' '"parameters":[]'

FETCH_OK=$(ctrl 18 '01 03 05 00 04 83e8')
roundtrip FETCH_OK control "$FETCH_OK"
has FETCH_OK '"type":"FETCH_OK"' '"end_of_track":1' \
	'"end_location":{"group":3,"object":5}' \
	'"track_properties":[{"type":4,"name":"MAX_CACHE_DURATION","value":1000}]'

TRACK_STATUS=$(ctrl 0d '08 01 04 6c697665 05 766964656f 00')
roundtrip TRACK_STATUS control "$TRACK_STATUS"
has TRACK_STATUS '"type":"TRACK_STATUS"' '"request_id":8' \
	'"track_namespace":["live"]' '"track_name":"video"'

PUBLISH_NAMESPACE=$(ctrl 06 '0a 02 04 6d656574 06 726f6f6d3d31 01 03 02 02 07')
roundtrip PUBLISH_NAMESPACE control "$PUBLISH_NAMESPACE"
has PUBLISH_NAMESPACE '"type":"PUBLISH_NAMESPACE"' '"request_id":10' \
	'"track_namespace":["meet","room=1"]' \
	'"value":{"alias_type":2,"alias_type_name":"USE_ALIAS","token_alias":7}'

NAMESPACE=$(ctrl 08 '01 06 726f6f6d3d32')
roundtrip NAMESPACE control "$NAMESPACE"
has NAMESPACE '"type":"NAMESPACE"' '"track_namespace_suffix":["room=2"]'

NAMESPACE_DONE=$(ctrl 0e '01 06 726f6f6d3d32')
roundtrip NAMESPACE_DONE control "$NAMESPACE_DONE"
has NAMESPACE_DONE '"type":"NAMESPACE_DONE"' '"track_namespace_suffix":["room=2"]'

SUBSCRIBE_NAMESPACE=$(ctrl 50 '0c 01 04 6d656574 00')
roundtrip SUBSCRIBE_NAMESPACE control "$SUBSCRIBE_NAMESPACE"
has SUBSCRIBE_NAMESPACE '"type":"SUBSCRIBE_NAMESPACE"' '"request_id":12' \
	'"track_namespace_prefix":["meet"]'

SUBSCRIBE_TRACKS=$(ctrl 51 '0e 00 01 10 00')
roundtrip SUBSCRIBE_TRACKS control "$SUBSCRIBE_TRACKS"
has SUBSCRIBE_TRACKS '"type":"SUBSCRIBE_TRACKS"' '"request_id":14' \
	'"track_namespace_prefix":[]' '{"name":"FORWARD","type":16,"value":0}'

PUBLISH_BLOCKED=$(ctrl 0f '01 06 726f6f6d3d33 05 766964656f')
roundtrip PUBLISH_BLOCKED control "$PUBLISH_BLOCKED"
has PUBLISH_BLOCKED '"type":"PUBLISH_BLOCKED"' \
	'"track_namespace_suffix":["room=3"]' '"track_name":"video"'

REQUEST_OK=$(ctrl 07 '01 09 02 01 0e 05')
roundtrip REQUEST_OK control "$REQUEST_OK"
has REQUEST_OK '"type":"REQUEST_OK"' \
	'{"name":"LARGEST_OBJECT","type":9,"value":{"group":2,"object":1}}' \
	'"track_properties":[{"type":14,"name":"DEFAULT_PUBLISHER_PRIORITY","value":5}]'

REQUEST_ERROR=$(ctrl 05 '10 00 0d 6e6f2073756368 20747261636b')
roundtrip REQUEST_ERROR control "$REQUEST_ERROR"
has REQUEST_ERROR '"type":"REQUEST_ERROR"' '"error_code":16' \
	'"error_code_name":"DOES_NOT_EXIST"' '"retry_interval":0' \
	'"error_reason":"no such track"'

REDIRECT=$(ctrl 05 '34 01 00  00 01 03 616c74 02 7632')
roundtrip REQUEST_ERROR/redirect control "$REDIRECT"
has REQUEST_ERROR/redirect '"error_code_name":"REDIRECT"' \
	'"redirect":{"connect_uri":"","track_namespace":["alt"],"track_name":"v2"}'

# binary bytes in names print as {"hex":...}
BIN=$(ctrl 08 '02 02 00ff 03 612262')
roundtrip NAMESPACE/binary control "$BIN"
has NAMESPACE/binary '"track_namespace_suffix":[{"hex":"00ff"},"a\"b"]'

# a whole control stream: several messages, offsets
STREAM="$SETUP $SUBSCRIBE $SUBSCRIBE_OK $PUBLISH_DONE"
roundtrip control-stream control "$STREAM"
n=$(grep -c '"type"' <<<"$out")
[ "$n" = 4 ] && ok "control-stream: 4 lines" || bad "control-stream: $n lines"
has control-stream "\"type\":\"SUBSCRIBE\",\"offset\":$(( $(echo "$SETUP" | norm | wc -c) / 2 )),"

# non-minimal varints: marked, and encode is canonical
NONMIN=$(ctrl 0e '8001 06 726f6f6d3d32')
out=$(echo "$NONMIN" | "$T" -k control -x)
has non-canonical '"non_canonical":true' '"track_namespace_suffix":["room=2"]'
enc=$(echo "$out" | "$T" -e -x | norm)
[ "$enc" = "$(echo "$NAMESPACE_DONE" | norm)" ] && ok "non-canonical: encode writes minimal varints" ||
	bad "non-canonical: encode gave $enc"

NONMIN_PROPS=$(ctrl 04 '09 00 0e 8073')
out=$(echo "$NONMIN_PROPS" | "$T" -k control -x)
has non-canonical-properties '"non_canonical":true' '"value":115'
enc=$(echo "$out" | "$T" -e -x | norm)
[ "$enc" = "$(ctrl 04 '09 00 0e 73')" ] && ok "non-canonical-properties: encode writes minimal varints" ||
	bad "non-canonical-properties: encode gave $enc"

# malformed / truncated control input
fails control/unknown-type control '09 0000' malformed 0
fails control/length-mismatch control "$(ctrl 0b '02 05 00 ff')" malformed
fails control/empty-namespace-field control "$(ctrl 08 '01 00')" malformed
fails control/unknown-parameter control "$(ctrl 02 '02 01 05 00')" malformed
fails control/parameter-not-allowed control "$(ctrl 50 '0c 01 04 6d656574 01 20 05')" malformed
fails control/bad-forward-value control "$(ctrl 51 '0e 00 01 10 02')" malformed
sub=$(echo "$SUBSCRIBE" | norm)
fails control/truncated-payload control "${sub:0:30}" truncated 0
fails control/truncated-header control '03 00' truncated 0
fails control/truncated-second-message control "$PUBLISH_OK ${sub:0:10}" truncated 6

# ---- subgroup streams ------------------------------------------------------------

SG='14 02 00 00 00  00 04 61626364  00 04 65666768'
roundtrip subgroup/draft-example-1 subgroup "$SG"
has subgroup/draft-example-1 \
	'{"type":"SUBGROUP_HEADER","offset":0,"stream_type":20,"track_alias":2,"group_id":0,"subgroup_id":0,"publisher_priority":0,"has_properties":false,"subgroup_id_mode":2,"end_of_group":false,"default_priority":false,"first_object":false}' \
	'{"type":"OBJECT","offset":5,"object_id_delta":0,"object_id":0,"payload_length":4,"payload":"abcd"}' \
	'{"type":"OBJECT","offset":11,"object_id_delta":0,"object_id":1,"payload_length":4,"payload":"efgh"}'

SG2='35 02 00 00  00 07 040a 4d 03 787978 04 61626364  00 00 04 65666768'
roundtrip subgroup/properties subgroup "$SG2"
has subgroup/properties '"stream_type":53' '"default_priority":true' \
	'"properties":[{"type":4,"name":"MAX_CACHE_DURATION","value":10},{"type":81,"value":"xyx"}]' \
	'"object_id":1,"properties":[],"payload_length":4'

SG3='1a 01 05 03  07 01 41  01 00 03'
roundtrip subgroup/first-object-mode subgroup "$SG3"
has subgroup/first-object-mode '"stream_type":26' '"subgroup_id_mode":1' \
	'"end_of_group":true' '"object_id":7,"payload_length":1,"payload":"A"' \
	'"object_id_delta":1,"object_id":9,"payload_length":0,"object_status":3,"object_status_name":"END_OF_GROUP"'

SG4='7d 01 05 00  00 06 0b04 0208 0100 01 41'
roundtrip subgroup/immutable-properties subgroup "$SG4"
has subgroup/immutable-properties '"first_object":true' \
	'{"type":11,"name":"IMMUTABLE_PROPERTIES","value":[{"type":2,"name":"OBJECT_DELIVERY_TIMEOUT","value":8},{"type":3,"value":""}]}' \
	'"payload_length":1,"payload":"A"'

fails subgroup/reserved-id-mode subgroup '16 01 02 03' malformed 0
fails subgroup/fetch-stream subgroup '05 07' malformed 0
fails subgroup/invalid-status subgroup '10 01 02 03  00 00 05' malformed 4
fails subgroup/status-with-properties subgroup '11 01 02 03  00 02 3c01 00 03' malformed 4
fails subgroup/truncated-header subgroup '14 02' truncated 0
fails subgroup/truncated-payload subgroup '14 02 00 00 00  00 04 6162' truncated 5

# ---- datagrams ---------------------------------------------------------------------

DG='00 02 03 04 05 80aabb
01 02 03 04 05 02 3c02 6869
0e 02 03 78
20 02 03 04 05 04
2d 02 03 02 3e01 00
f0132b3e29 0000'
roundtrip datagram/every-form datagram "$DG"
has datagram/every-form \
	'{"type":"OBJECT_DATAGRAM","offset":0,"datagram_type":0,"track_alias":2,"group_id":3,"object_id":4,"publisher_priority":5,"has_properties":false,"end_of_group":false,"zero_object_id":false,"default_priority":false,"has_status":false,"payload":{"hex":"80aabb"}}' \
	'"datagram_type":1,' '"properties":[{"type":60,"name":"PRIOR_GROUP_ID_GAP","value":2}],"payload":"hi"' \
	'"datagram_type":14,"track_alias":2,"group_id":3,"object_id":0,"has_properties":false,"end_of_group":true,"zero_object_id":true,"default_priority":true' \
	'"datagram_type":32,' '"has_status":true,"object_status":4,"object_status_name":"END_OF_TRACK"}' \
	'"datagram_type":45,' '"properties":[{"type":62,"name":"PRIOR_OBJECT_ID_GAP","value":1}],"object_status":0' \
	'{"type":"PADDING_DATAGRAM","offset":35,"padding_length":2}'

fails datagram/status-and-end-of-group datagram '22 02 03 04 05 00' malformed 0
fails datagram/unknown-type datagram '10 02 03' malformed 0
fails datagram/empty-properties datagram '01 02 03 04 05 00 6869' malformed 0
fails datagram/bad-status datagram '20 02 03 04 05 07' malformed 0
fails datagram/truncated datagram '00 02' truncated 0
fails datagram/second-line-truncated datagram "$(printf '0e 02 03 78\n08 02')" truncated 4

# ---- fetch streams ---------------------------------------------------------------

F='05 07  1f 01 00 00 80 02 6869  01 01 21  2c 00 00 02 3c01 00  44 03 01 64
	808c 05 00  810c 06 02  04 01 00'
roundtrip fetch/every-form fetch "$F"
has fetch/every-form '{"type":"FETCH_HEADER","offset":0,"request_id":7}' \
	'"serialization_flags":31,"group_id_delta":1,"group_id":1,"subgroup_id":0,"object_id_delta":0,"object_id":0,"publisher_priority":128,"payload_length":2,"payload":"hi"' \
	'"serialization_flags":1,"group_id":1,"subgroup_id":0,"object_id":1,"publisher_priority":128,"payload_length":1,"payload":"!"' \
	'"group_id":2,"subgroup_id":0,"object_id_delta":0,"object_id":0,"publisher_priority":128,"properties":[{"type":60,"name":"PRIOR_GROUP_ID_GAP","value":1}],"payload_length":0' \
	'"serialization_flags":68,"group_id":2,"datagram":true,"object_id_delta":3,"object_id":3' \
	'{"type":"END_OF_NON_EXISTENT_RANGE","offset":' '"serialization_flags":140,"group_id":5,"object_id":0}' \
	'{"type":"END_OF_UNKNOWN_RANGE","offset":' '"serialization_flags":268,"group_id":6,"object_id":2}' \
	'"serialization_flags":4,"group_id":6,"subgroup_id":0,"object_id_delta":1,"object_id":3'

FD='05 01  1c 05 00 80 00  18 00 20 00'
roundtrip fetch/descending fetch "$FD" --group-order descending
has fetch/descending '"group_id_delta":0,"group_id":4,"subgroup_id":0,"object_id":1,"publisher_priority":32'
out=$(echo "$FD" | "$T" -k fetch -x)
has fetch/ascending-default '"group_id_delta":0,"group_id":6,'

fails fetch/first-object-references-prior fetch '05 07  01 00' malformed 2
fails fetch/invalid-flags fetch '05 07  8080 01 00' malformed 2
fails fetch/subgroup-stream fetch '14 02 00 00 00' malformed 0
fails fetch/truncated-payload fetch '05 07  1f 01 00 00 80 05 6869' truncated 2
fails fetch/truncated-header fetch '05' truncated 0

# ---- --kind stream: the stream type picks the decoder --------------------------------

roundtrip stream/subgroup stream "$SG"
has stream/subgroup '"type":"SUBGROUP_HEADER"' '"payload":"efgh"'
roundtrip stream/fetch stream "$F"
has stream/fetch '"type":"FETCH_HEADER"' '"type":"END_OF_UNKNOWN_RANGE"'
roundtrip stream/control stream "$SETUP $SUBSCRIBE"
has stream/control '"type":"SETUP"' '"type":"SUBSCRIBE"'
roundtrip stream/padding stream 'f0132b3e28 000000'
has stream/padding '{"type":"PADDING","offset":0,"padding_length":3}'
fails stream/padding-not-zero stream 'f0132b3e28 0001' malformed 6
fails stream/unknown-type stream '0a 00' malformed 0
fails stream/reserved-subgroup-mode stream '17 00' malformed 0
fails stream/truncated-type stream 'f013' truncated 0

# ---- varints -----------------------------------------------------------------------

V='25 8025 bbbd ed7f3e7d faa1a0e403d8 fc8998abc66bc0 fefa318fa8e3ca11 ffffffffffffffffff'
roundtrip varint/draft-examples varint "$V"
has varint/draft-examples '{"type":"varint","offset":0,"value":37,"length":1}' \
	'{"type":"varint","offset":1,"value":37,"length":2}' '"value":15293,"length":2' \
	'"value":226442877,"length":4' '"value":2893212287960,"length":6' \
	'"value":151288809941952,"length":7' '"value":70423237261249041,"length":8' \
	'"value":18446744073709551615,"length":9'
Q='25 7bbd 9d7f3e7d c2197c5eff14e88c 4025'
roundtrip varint/quic varint "$Q" --quic
has varint/quic '"type":"quic_varint"' '"value":15293,"length":2' \
	'"value":494878333,"length":4' '"value":151288809941952652,"length":8' \
	'"offset":15,"value":37,"length":2'
fails varint/truncated varint '25 ed7f' truncated 1
fails varint/quic-truncated varint 'c2197c' truncated 0 --quic
enc=$(echo '{"type":"varint","value":37}' | "$T" -e -x)
[ "$enc" = 25 ] && ok "varint: encode without length is minimal" || bad "varint: got $enc"
enc=$(echo '{"type":"varint","value":37,"length":3}' | "$T" -e -x)
[ "$enc" = c00025 ] && ok "varint: encode keeps a requested width" || bad "varint: got $enc"

# binary input and output (no --hex)
printf '\x25\x80\x25' >"$B/moq_inspect_vi.bin"
out=$("$T" -k varint "$B/moq_inspect_vi.bin")
has varint/binary-file '"offset":1,"value":37,"length":2'
"$T" -k varint "$B/moq_inspect_vi.bin" | "$T" -e >"$B/moq_inspect_vi2.bin"
cmp -s "$B/moq_inspect_vi.bin" "$B/moq_inspect_vi2.bin" && ok "binary round trip" ||
	bad "binary round trip differs"
rm -f "$B/moq_inspect_vi.bin" "$B/moq_inspect_vi2.bin"

# ---- hex input rules ----------------------------------------------------------------
out=$(printf '25 # a comment\n  80\t25\n' | "$T" -k varint -x)
has hex/comments-and-whitespace '"offset":1,"value":37,"length":2'
fails hex/bad-digit varint '25 zz' bad_hex 3
fails hex/lone-digit varint '25 8' bad_hex 3

# ---- encode errors ------------------------------------------------------------------
encfail() {
	local name=$1 json=$2 want=$3 e rc
	e=$(printf '%s\n' "$json" | "$T" --encode --hex 2>&1 >/dev/null)
	rc=$?
	if [ $rc -eq 1 ] && grep -qE '^\{"error":"bad_json","offset":[0-9]+,"line":[0-9]+,"reason":' <<<"$e" &&
		grep -qF -- "$want" <<<"$e"; then
		ok "$name: bad_json, exit 1"
	else
		bad "$name: exit $rc: $e"
	fi
}
encfail encode/syntax '{"type":"SUBSCRIBE",' 'input ends inside an object'
encfail encode/unknown-message '{"type":"SUBSCRIBE_ERROR"}' 'not a control message name'
encfail encode/unknown-field '{"type":"NAMESPACE","track_namespace_suffix":["a"],"colour":1}' 'unknown field \"colour\"'
encfail encode/missing-field '{"type":"SUBSCRIBE","request_id":1,"track_name":"x"}' 'missing field \"track_namespace\"'
encfail encode/u64-overflow '{"type":"varint","value":18446744073709551616}' '18446744073709551616'
encfail encode/negative '{"type":"REQUEST_UPDATE","request_id":-1}' 'got -1'
encfail encode/line-number "$(printf '%s\n%s' '{"type":"varint","value":1}' '{"type":"varint","value":"x"}')" '"line":2'
encfail encode/param-not-allowed '{"type":"SUBSCRIBE_NAMESPACE","request_id":0,"track_namespace_prefix":[],"parameters":[{"name":"SUBSCRIBER_PRIORITY","value":1}]}' 'may not appear'
encfail encode/full-track-name-bad '{"type":"TRACK_STATUS","request_id":0,"full_track_name":"a.2E--b"}' "not in the draft's form"
encfail encode/full-track-name-disagrees '{"type":"TRACK_STATUS","request_id":0,"track_namespace":["a"],"track_name":"b","full_track_name":"a--c"}' 'disagrees'
enc=$(echo '{"type":"TRACK_STATUS","request_id":8,"full_track_name":"live--video"}' | "$T" -e -x)
[ "$enc" = "$(echo "$TRACK_STATUS" | norm)" ] && ok "encode: full_track_name instead of track_namespace + track_name" ||
	bad "encode: full_track_name gave $enc"
encfail encode/bad-hex '{"type":"NAMESPACE","track_namespace_suffix":[{"hex":"0g"}]}' 'bad hex digit'
encfail encode/object-first '{"type":"OBJECT","object_id":0}' 'follow a SUBGROUP_HEADER or FETCH_HEADER'
e=$(echo '{"type":"OBJECT","object_id":0}' | "$T" -e -k subgroup 2>&1)
[ $? -eq 1 ] && grep -qF 'starts with a SUBGROUP_HEADER' <<<"$e" && ok "encode/object-before-header" ||
	bad "encode/object-before-header: $e"
enc=$(echo '{"type":"SUBGROUP_HEADER","track_alias":2,"group_id":0,"subgroup_id":0,"publisher_priority":0}
{"type":"OBJECT","object_id":0,"payload":"abcd"}' | "$T" -e -x | norm)
[ "$enc" = 1402000000000461626364 ] && ok "encode: minimal JSON gets the default flags" ||
	bad "encode: minimal JSON gave $enc"

# ---- usage ----------------------------------------------------------------------------
usage usage/no-kind --hex
usage usage/bad-kind --kind bogus
usage usage/unknown-option --frobnicate
usage usage/missing-value --kind
usage usage/two-files -k varint a b
usage usage/missing-file -k varint /nonexistent/moq-inspect-input
usage usage/quic-without-varint -k control --quic
usage usage/bad-group-order -k fetch --group-order sideways
usage usage/group-order-without-fetch -k control --group-order descending
help=$("$T" --help)
[ $? -eq 0 ] && grep -q -- '--encode' <<<"$help" && grep -q -- '--kind' <<<"$help" &&
	ok "usage/help documents the options" || bad "usage/help"

echo "moq_inspect: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
