#!/usr/bin/env bash
# fastpath_tls.sh with the agent killed mid-stream: forwarding stops, no
# packet the subscriber cannot decrypt reaches it; a restarted agent serves.
FPT_MODE=kill exec "$(dirname "$0")/fastpath_tls.sh"
