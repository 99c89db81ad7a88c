#!/usr/bin/env bash
# Issue 16, part 3: the orderly-stop test N times in a row (default 50), stopping at the first failure.
#   tests/repeat-orderly-stop.sh [N]
# Each run of OrderlyStopTests.Frames_sent_across_fifty_orderly_restarts… stops and restarts the in-process
# daemon 50 times under checked traffic both ways; a run passes only if every frame arrived once and intact
# and every stop's flush completed. Prints one line per run and "ORDERLY <passed> of <N> passed".
set -uo pipefail
cd "$(dirname "$0")/.."
n=${1:-50}
dotnet build tests/Backend.Actors.Tests >/dev/null || { echo "build failed"; exit 2; }
pass=0
for i in $(seq 1 "$n"); do
  start=$(date +%s)
  out=$(dotnet test tests/Backend.Actors.Tests --no-build \
    --filter 'FullyQualifiedName~OrderlyStopTests.Frames_sent_across_fifty_orderly_restarts' 2>&1)
  if echo "$out" | grep -q 'Passed!  - Failed:     0, Passed:     1,'; then pass=$((pass + 1)); r=PASS; else r=FAIL; fi
  echo "run $i $r $(( $(date +%s) - start ))s"
  [ "$r" = FAIL ] && { echo "$out" | tail -60; break; }
done
echo "ORDERLY $pass of $n passed"
[ "$pass" = "$n" ]
