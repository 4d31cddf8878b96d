# tests/integration/relay/reasons.sh - the fast path's drop/skip reasons for
# tests that read moq_stats (key = program * FP_R_MAX + reason). Source
# after lib.sh.

# The reason names in enum moq_reason order, from the header the objects
# were built from, through the preprocessor (not the header's line layout)
FP_REASONS=$(printf '#include "moq_maps.h"\n#define MOQ_NAME_ONLY(id, name) name\nMOQ_REASONS(MOQ_NAME_ONLY)\n' |
	cpp -P -I"$ROOT/tc-progs" - | tail -1 | tr -d '"' | tr -s ' ' '\n' | grep -v '^$')
FP_R_MAX=$(wc -l <<<"$FP_REASONS")
# fp_reason_index NAME: the reason's number (stats key = prog * FP_R_MAX + it)
fp_reason_index() {
	local i
	i=$(grep -nx "$1" <<<"$FP_REASONS" | cut -d: -f1)
	[ -n "$i" ] || die "no reason '$1' in tc-progs/moq_maps.h"
	echo $((i - 1))
}
