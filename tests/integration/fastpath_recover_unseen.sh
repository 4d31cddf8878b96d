#!/usr/bin/env bash
# Whole groups lost when the event of a gate-dropped stream start is lost (moq_events
# full under a slow relay: event_lost; docs/results.md "Recovery after an overload"):
# fastpath_recover.sh RC_MODE=unseen leaves, for every subscriber, the kernel's entry
# of such a drop ({no id, reset} in moq_down_streams) for 5 upstream streams ahead,
# with no event. The agent must serve those streams (starts_unseen=) and every
# subscriber be byte-exact. Before the fix the agent took the entry for a stream it
# had decided on and skipped it: 50 objects (5 groups) missing on all 64
# subscribers, no stream reset.
RC_MODE=unseen RC_STOP_MS=${RC_STOP_MS:-1000} RC_STOPS=${RC_STOPS:-1} \
	exec "$(dirname "$0")/fastpath_recover.sh" "$@"
