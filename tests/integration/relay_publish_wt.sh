#!/usr/bin/env bash
# relay_publish.sh over WebTransport: relays with a development certificate, clients
# at https://HOST:PORT/ (MOQ_TEST_TRANSPORT, tests/integration/relay/common.sh)
MOQ_TEST_TRANSPORT=webtransport exec bash "$(dirname "$0")/relay_publish.sh" "$@"
