#!/usr/bin/env bash
# fastpath_join.sh on the userspace relay: 24 Next Group Start joiners at
# many points of a live track each get every object from their first group.
FP_JOIN_USERSPACE=1 exec "$(dirname "$0")/fastpath_join.sh"
