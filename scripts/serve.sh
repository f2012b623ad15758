#!/usr/bin/env bash
# Builds callguard and starts the server with the shipped policies. Extra arguments go to the
# server, e.g. scripts/serve.sh --listen 0.0.0.0:50051
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
exec build/bin/callguard-server "$@"
