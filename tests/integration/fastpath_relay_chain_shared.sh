#!/usr/bin/env bash
# fastpath_relay_chain.sh with the origin and the subscribers behind ONE
# edge interface (testbed --shared-link: the edge's eth0 runs
# tc/relay_ingress and tc/subscriber_egress), as on a host with one NIC.
FP_TOPOLOGY=shared exec "$(dirname "$0")/fastpath_relay_chain.sh"
