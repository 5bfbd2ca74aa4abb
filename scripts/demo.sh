#!/usr/bin/env bash
# Quick start's first command: builds swarmkv and runs the main job.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR="$root/build" "$root/scripts/build.sh" >/dev/null
exec "$root/build/swarmkv" version
