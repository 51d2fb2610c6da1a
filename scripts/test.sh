#!/usr/bin/env bash
# The project's test command (README, CI). Numeric tests need optimized code, so tests build in
# release with testability enabled.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build
swift test -c release -Xswiftc -enable-testing "$@"
