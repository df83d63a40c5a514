#!/usr/bin/env bash
# Gradescope autograder setup: runs once when the autograder image is built. Upload a zip holding
# setup.sh, run_autograder and sockspec.toml (the assignment's class manifest; see README.md).
set -euo pipefail
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 python3-pip
# The wheel puts the `sockspec` binary on PATH (no Rust toolchain needed).
pip3 install --break-system-packages sockspec || pip3 install sockspec
sockspec --version
