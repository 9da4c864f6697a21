#!/bin/sh
# e2e_epoll.sh - the end-to-end suites of the gateway and the relay again,
# every gateway they start running the epoll backend (--io epoll).
#
# Run as: HF_BUILD=<outdir> sh tests/e2e_epoll.sh
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
GW_IO=epoll
export GW_IO
rc=0
sh "$HERE/e2e_gateway.sh" || rc=1
sh "$HERE/e2e_relay.sh" || rc=1
exit "$rc"
