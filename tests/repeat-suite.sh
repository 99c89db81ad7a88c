#!/usr/bin/env bash
# Runs the whole suite N times in a row on a clean clone, as CI runs it, and says how each run went:
# issue 16's "a suite that never flakes" is measured with this. Usage:
#   tests/repeat-suite.sh N [REPO [REF]]      (REPO defaults to this repository, REF to its HEAD)
# The first run is CI's own command (CI=true ./test.sh: packages, tools, build, tests); runs 2..N are
# `dotnet test Backend.sln` on the same build, with CI=true so that a missing prerequisite fails rather
# than skips. Each run's trx and console log go under OUT (default /tmp/repeat-suite-<time>); at the end
# one line per run (passed/failed/skipped and the failing tests' names) and the total. Exit status 1 when
# any run failed.
set -uo pipefail
if [ $# -lt 1 ] || ! [[ $1 =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: $0 N [REPO [REF]]" >&2
  exit 2
fi
runs=$1
repo=${2:-$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)}
ref=${3:-$(git -C "$repo" rev-parse HEAD)}
out=${OUT:-/tmp/repeat-suite-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
clone="$out/clone"
git clone -q "$repo" "$clone" && git -C "$clone" checkout -q "$ref" || { echo "cannot clone $repo at $ref" >&2; exit 2; }
# The tests read the shared folder beside the repository (SIMXEN's C reference, the real-Xen test bed), as CI
# has it: the clone gets the same neighbour.
if [ -d "$repo/../shared" ] && [ ! -e "$out/shared" ]; then ln -s "$(cd "$repo/../shared" && pwd)" "$out/shared"; fi
echo "suite of $(git -C "$clone" log -1 --format='%h %s' | cut -c1-100), $runs runs, results in $out"

export CI=true
summary=()
failed_runs=0
for i in $(seq 1 "$runs"); do
  results="$out/run-$i"
  args=(--logger "trx" --results-directory "$results")
  start=$(date +%s)
  if [ "$i" = 1 ]; then
    (cd "$clone" && ./test.sh "${args[@]}") >"$out/run-$i.log" 2>&1
  else
    (cd "$clone" && dotnet test Backend.sln --no-build "${args[@]}") >"$out/run-$i.log" 2>&1
  fi
  status=$?
  took=$(( $(date +%s) - start ))
  # The trx files (one per test project) count the outcomes; a run that died before any test ran has none.
  read -r passed failed skipped < <(python3 - "$results" <<'PY'
import glob, sys, xml.etree.ElementTree as ET
ns = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
counts = {"Passed": 0, "Failed": 0, "NotExecuted": 0}
for f in glob.glob(sys.argv[1] + "/*.trx"):
    for r in ET.parse(f).getroot().iterfind(".//t:UnitTestResult", ns):
        o = r.get("outcome")
        counts[o] = counts.get(o, 0) + 1
print(counts["Passed"], counts["Failed"], counts["NotExecuted"])
PY
)
  names=$(python3 - "$results" <<'PY'
import glob, sys, xml.etree.ElementTree as ET
ns = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
for f in glob.glob(sys.argv[1] + "/*.trx"):
    for r in ET.parse(f).getroot().iterfind(".//t:UnitTestResult", ns):
        if r.get("outcome") == "Failed":
            print(r.get("testName"))
PY
)
  if [ "$status" != 0 ] || [ "$failed" != 0 ]; then
    failed_runs=$((failed_runs + 1))
    [ -z "$names" ] && names="(no failed test: exit $status, see run-$i.log)"
    line="run $i: FAILED  passed $passed failed $failed skipped $skipped  ${took}s: $(echo "$names" | paste -sd ';' -)"
  else
    line="run $i: ok      passed $passed failed $failed skipped $skipped  ${took}s"
  fi
  echo "$line"
  summary+=("$line")
done
echo "---"
printf '%s\n' "${summary[@]}" >"$out/summary.txt"
echo "$((runs - failed_runs)) of $runs runs passed, $failed_runs failed (summary in $out/summary.txt)"
[ "$failed_runs" = 0 ]
