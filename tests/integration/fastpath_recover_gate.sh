#!/usr/bin/env bash
# Whole groups lost after a stall (docs/results.md "Recovery after an overload"): the
# relay stopped for 2 s with every subscriber's gate closed through the map
# (fastpath_recover.sh RC_MODE=gate), so the kernel drops the start of every new
# stream at the gate and the agent takes them over when it runs again. Every
# subscriber must be byte-exact. Before the fix the agent, having served no stream for
# 2 s, ranked its gate classes from class 0 and reset the dropped priority-128 streams
# as "less important": silently, as none was open downstream (5 objects missing on all
# 64 subscribers in every run).
RC_MODE=gate RC_STOP_MS=${RC_STOP_MS:-2000} RC_STOPS=${RC_STOPS:-1} \
	exec "$(dirname "$0")/fastpath_recover.sh" "$@"
