#!/usr/bin/env bash
# Installs every Debian 12 package callguard needs to build, run and test. Idempotent: quiet
# when everything is already there.
set -euo pipefail
PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libboost1.81-dev libvectorscan-dev libicu-dev libsqlite3-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # The dashboard's browser test: headless Chromium driven over WebDriver from Python.
  chromium chromium-driver python3
  python3-grpcio python3-protobuf  # the Python integration example and its test
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
