#!/usr/bin/env bash
# fastpath_tls.sh with a subscriber initiating a key update every 200
# received packets (moq-sub --key-update-every 200): byte-exact, the kernel
# follows the key phase.
FPT_MODE=keyupdate exec "$(dirname "$0")/fastpath_tls.sh"
