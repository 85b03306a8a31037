#!/usr/bin/env bash
# `make bench`: every benchmark section, printed and saved to .build-release/bench-results/<UTC time>.txt.
# Not part of `make test`. Needs the test peers (scripts/setup.sh --test), strace and gcc.
# BENCH_ONLY=ingest,concurrent,e2e,memory,outbox picks sections (default: those five; add
# compression and/or stow for scripts/bench/compression.py and stow.py, issues 3 and 5);
# BENCH_REPEAT=3 runs per figure.
set -euo pipefail
cd "$(dirname "$0")/../.."
results="${BENCH_RESULTS:-.build-release/bench-results}"  # gitignored (.build-*/)
mkdir -p "$results"
out="$results/$(date -u +%Y%m%dT%H%M%SZ).txt"
only="${BENCH_ONLY:-ingest,concurrent,e2e,memory,outbox}"
ingest_only=$(echo "$only" | tr ',' '\n' | grep -vE '^(outbox|compression|stow)$' | paste -sd, - || true)
{
    if [ -n "$ingest_only" ]; then
        python3 scripts/bench/ingest.py --only "$ingest_only" --repeat "${BENCH_REPEAT:-3}"
    fi
    if echo "$only" | grep -qw outbox; then
        python3 scripts/bench/outbox.py --deliveries "${BENCH_DELIVERIES:-1000000}"
    fi
    # Feature benchmarks kept by their own issues, opt-in: BENCH_ONLY=...,compression,stow
    if echo "$only" | grep -qw compression; then
        python3 scripts/bench/compression.py --repeat "${BENCH_REPEAT:-3}"
    fi
    if echo "$only" | grep -qw stow; then
        bin="$(swift build -c release --scratch-path .build-release --show-bin-path)"
        python3 scripts/bench/stow.py --repeat "${BENCH_REPEAT:-3}" --bin "$bin"
    fi
} 2>&1 | tee "$out"
echo "bench: results in $out"
