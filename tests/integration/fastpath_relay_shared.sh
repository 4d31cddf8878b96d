#!/usr/bin/env bash
# The fast-path suite of fastpath_relay.sh with publisher and subscribers
# behind ONE relay interface (testbed --shared-link: a bridge; the relay's
# eth0 runs tc/relay_ingress and tc/subscriber_egress), as on a real host
# with one NIC. Phase 1 with 20,000 objects per subscriber to keep make
# check short; loss and agent restart as in the separate-link run.
FP_TOPOLOGY=shared FP_OBJECTS=${FP_OBJECTS:-20000} exec "$(dirname "$0")/fastpath_relay.sh"
