#!/usr/bin/env bash
# The device check (make device-check): tests that need CUDA and the device benchmark in one call of at most
# 8 minutes on the GPU machine, with a Markdown + JSON report in $OUT (else results/device_check).
#   bash scripts/device_check.sh [--dry-run] [--out DIR] [--budget SECONDS] ...   (--help lists every option)
# Carry the .whl folder of `make device-wheels`. The logic is in scripts/device_check.py; see docs/device_check.md.
set -u
cd "$(dirname "$0")/.."
exec "${PYTHON:-python3}" scripts/device_check.py "$@"
