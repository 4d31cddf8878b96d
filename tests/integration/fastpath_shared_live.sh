#!/usr/bin/env bash
# fastpath_live.sh with publisher and subscribers behind one relay interface
# (a bridge): tc/relay_ingress + tc/subscriber_egress on that interface.
FASTPATH_TOPOLOGY=shared exec bash "$(dirname "$0")/fastpath_live.sh" "$@"
