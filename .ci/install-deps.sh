#!/usr/bin/env bash
# Installs the Debian 12 packages TinyM2Net builds and tests with (only the
# missing ones; apt-get runs only when something is missing).
set -euo pipefail
pkgs=(build-essential cmake pkg-config libopenblas-dev libhdf5-dev hdf5-tools
      libsndfile1-dev libsamplerate0-dev libpng-dev libinih-dev libjansson-dev check libfftw3-dev
      python3 python3-numpy
      gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user       # aarch64 parity
      gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm    # Cortex-M build and runs
      gnuplot-nox                                                  # training, Pareto, results plots
      libopenmpi-dev openmpi-bin                                   # MPI scale-out (docs/scale-out.md)
      clang libclang-rt-14-dev)                                    # tests/fuzz (libFuzzer)
pkgs+=("$@")
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "installing: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
