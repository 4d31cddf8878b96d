#!/usr/bin/env bash
# fastpath_tls.sh with 2 % loss towards sub1 and sub2: every TLS subscriber
# byte-exact through the agent's retransmissions.
FPT_MODE=loss exec "$(dirname "$0")/fastpath_tls.sh"
