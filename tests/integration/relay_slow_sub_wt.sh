#!/usr/bin/env bash
# relay_slow_sub.sh over WebTransport: relays with a development certificate, clients
# at https://HOST:PORT/ (MOQ_TEST_TRANSPORT, tests/integration/relay/common.sh)
MOQ_TEST_TRANSPORT=webtransport exec bash "$(dirname "$0")/relay_slow_sub.sh" "$@"
