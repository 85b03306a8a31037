#!/usr/bin/env bash
# `make faults`: the full fault-injection suite (Tests/RadRelayFaultTests) with its tally.
# RADRELAY_FAULT_CYCLES (default 50) kill -9 cycles per kill case; RADRELAY_FAULT_FULL=1 turns on
# the long cases and the cases that document known daemon bugs. The default `make test` runs the
# same target with 5 cycles and without those cases.
# Needs root for the disk-full cases (tmpfs mount); they skip with a message otherwise.
set -uo pipefail
cd "$(dirname "$0")/../.."
bin_dir="${RADRELAY_BIN_DIR:-$(swift build --show-bin-path)}"
tally="$(mktemp /tmp/radrelay-fault-tally.XXXXXX)"
export RADRELAY_FAULT_FULL=1 RADRELAY_FAULT_CYCLES="${RADRELAY_FAULT_CYCLES:-50}" RADRELAY_FAULT_TALLY="$tally"
export RADRELAY_BIN_DIR="$bin_dir"
started=$(date +%s)
swift test --skip-build --filter "${RADRELAY_FAULT_FILTER:-RadRelayFaultTests}" 2>&1 | tee "$tally.log"
status=${PIPESTATUS[0]}
echo
echo "== fault suite tally ($(( $(date +%s) - started )) s, cycles=$RADRELAY_FAULT_CYCLES) =="
python3 - "$tally" "$tally.log" <<'PY'
import json, re, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
for r in rows:
    print(f"{'held' if r['held'] else 'FAILED':8s} {r['runs']:5d}x  {r['case']}: {r['detail']}")
log = open(sys.argv[2]).read()
def cases(outcome):
    return sorted(set(re.findall(r"Test Case '(?:-\[)?(?:RadRelayFaultTests\.)?(\w+[. ]\w+)\]?' " + outcome, log)))
failed, skipped, passed = cases("failed"), cases("skipped"), cases("passed")
print(f"tests: {len(passed)} passed, {len(failed)} failed, {len(skipped)} skipped")
print(f"cases recorded: {len(rows)}, held: {sum(r['held'] for r in rows)}, runs: {sum(r['runs'] for r in rows)}")
print("failed tests: " + (", ".join(failed) or "none"))
print("skipped tests: " + (", ".join(skipped) or "none"))
PY
rm -f "$tally"
exit "$status"
