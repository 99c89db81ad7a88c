#!/usr/bin/env bash
# The fuzz campaign: builds tests/fuzz/Backend.Fuzz twice (a plain build to replay inputs, and one whose
# Backend.Xen.dll SharpFuzz instruments for AFL++), then runs each target under afl-fuzz for a time
# budget, one after the other, niced, and reports per target: executions, executions/s, edges found and
# map density (from AFL's fuzzer_stats), and findings. Every crash is replayed on the plain build (its
# exception printed), minimised with afl-tmin, and copied into corpus/TARGET/crash-SHA as a regression
# case, which the normal suite then runs (Backend.Xen.Tests FuzzCorpusTests) until the defect is fixed.
# Not part of CI's run: it needs afl++ and takes as long as it is given.
#
#   tests/fuzz/run.sh                      every target, 600 s each
#   tests/fuzz/run.sh -t 60 tx rx          those targets, 60 s each
#   tests/fuzz/run.sh -t 3600 -k xenstore  ... and keep the new coverage: afl-cmin of corpus + queue into the corpus
#   tests/fuzz/run.sh -e 10000000 -t 7200  each target until 10^7 executions (AFL's -E), at most 7200 s
#   tests/fuzz/run.sh -o out-b tx rx       output in tests/fuzz/out-b, so that two campaigns can run at once
#
# Output goes to tests/fuzz/out/ (not kept; -o names another): out/TARGET/ is afl-fuzz's, out/report.txt the table.
set -euo pipefail
cd "$(dirname "$0")"
fuzz_dir=$(pwd)

budget=600
executions_wanted=
keep=0
out_name=out
while getopts "t:e:o:k" option; do
  case $option in
    t) budget=$OPTARG ;;
    e) executions_wanted=$OPTARG ;;
    k) keep=1 ;;
    o) out_name=$OPTARG ;;
    *) echo "usage: $0 [-t seconds] [-e executions] [-o output-folder] [-k] [target...]" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))

if ! command -v afl-fuzz >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq afl++ >/dev/null
  else
    echo "run.sh: afl-fuzz is missing (Debian package afl++)" >&2
    exit 1
  fi
fi

out=$fuzz_dir/$out_name
plain=$out/plain
instrumented=$out/instrumented
mkdir -p "$out"
dotnet tool restore >/dev/null
echo "building the targets (plain and instrumented)..."
rm -rf "$plain" "$instrumented"
dotnet build Backend.Fuzz -c Release -o "$plain" -nologo -v q >/dev/null
dotnet build Backend.Fuzz -c Release -o "$instrumented" -nologo -v q >/dev/null
# Only the product is instrumented: its branches are the coverage AFL follows, not the harness's.
dotnet sharpfuzz "$instrumented/Backend.Xen.dll" >/dev/null

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(dotnet "$plain/Backend.Fuzz.dll" list)
fi

# The machine is shared: afl-fuzz is told not to bind a core, not to need a core_pattern or the
# performance governor, and not to draw its screen.
export AFL_SKIP_BIN_CHECK=1 AFL_NO_AFFINITY=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1
# SharpFuzz's map is AFL's classic 64 KiB one.
export AFL_MAP_SIZE=65536

field() { sed -n "s/^$2 *: *//p" "$1/default/fuzzer_stats"; }

report=$out/report.txt
printf "%-10s %10s %12s %8s %7s %8s %8s %7s %s\n" target seconds executions exec/s edges map% corpus crashes hangs > "$report"
status=0
for target in "${targets[@]}"; do
  corpus=$fuzz_dir/corpus/$target
  [ -d "$corpus" ] || { echo "run.sh: no corpus for $target in $corpus" >&2; exit 1; }
  findings=$out/$target
  rm -rf "$findings"
  # -V: stop after the budget; -E: or once that many inputs have run (the issue's campaign is counted in
  # executions, and the rate varies with the machine's load); -t: a run slower than 5 s is a hang;
  # -m none: the runtime maps far more than AFL's default.
  limits=(-V "$budget")
  [ -z "$executions_wanted" ] || limits+=(-E "$executions_wanted")
  echo "fuzzing $target for $budget s${executions_wanted:+ or $executions_wanted executions}..."
  nice -n 10 afl-fuzz -i "$corpus" -o "$findings" "${limits[@]}" -t 5000 -m none \
    -- "$instrumented/Backend.Fuzz" fuzz "$target" > "$out/$target.log" 2>&1 || {
      echo "run.sh: afl-fuzz failed for $target (see $out/$target.log)" >&2; tail -20 "$out/$target.log" >&2; status=1
      # SharpFuzz's fork server is the .NET process itself: AFL's kill of a run past -t kills it, and the
      # campaign ends with "Unable to communicate with fork server" instead of saving a hang. The input it
      # was running is the hang: keep it as a regression case and time its replay.
      if grep -q "Unable to communicate with fork server" "$out/$target.log" && [ -s "$findings/default/.cur_input" ]; then
        name=hang-$(sha1sum "$findings/default/.cur_input" | cut -c1-12)
        cp "$findings/default/.cur_input" "$corpus/$name"
        echo "hang in $target (the run AFL killed), kept as corpus/$target/$name; its replay:" >&2
        ( time dotnet "$plain/Backend.Fuzz.dll" run "$target" "$corpus/$name" ) 2>&1 | sed 's/^/    /' >&2 || true
      fi
      continue; }

  crashes=0
  for crash in "$findings"/default/crashes/id:*; do
    [ -e "$crash" ] || continue
    crashes=$((crashes + 1))
    minimised=$out/$target.min
    afl-tmin -i "$crash" -o "$minimised" -t 5000 -m none -- "$instrumented/Backend.Fuzz" fuzz "$target" >/dev/null 2>&1 \
      || cp "$crash" "$minimised"
    name=crash-$(sha1sum "$minimised" | cut -c1-12)
    cp "$minimised" "$corpus/$name"
    echo "finding in $target, kept as corpus/$target/$name:"
    dotnet "$plain/Backend.Fuzz.dll" run "$target" "$corpus/$name" | sed 's/^/    /' || true
  done
  if [ "$keep" = 1 ]; then
    # The corpus kept in the repo: the smallest set of inputs with the coverage of the old corpus and the queue.
    merged=$out/$target.cmin
    rm -rf "$merged" "$out/$target.all" && mkdir -p "$out/$target.all"
    cp "$corpus"/* "$findings"/default/queue/id:* "$out/$target.all/"
    if afl-cmin -i "$out/$target.all" -o "$merged" -t 5000 -m none -- "$instrumented/Backend.Fuzz" fuzz "$target" >/dev/null 2>&1; then
      find "$corpus" -name 'cmin-*' -delete
      for kept in "$merged"/*; do
        case $(basename "$kept") in seed-*|crash-*) continue ;; esac
        cp "$kept" "$corpus/cmin-$(sha1sum "$kept" | cut -c1-12)"
      done
    else
      echo "run.sh: afl-cmin failed for $target; corpus left as it was" >&2
    fi
  fi
  seconds=$(field "$findings" run_time)
  executions=$(field "$findings" execs_done)
  printf "%-10s %10s %12s %8s %7s %8s %8s %7s %s\n" "$target" "$seconds" "$executions" \
    "$(awk -v e="$executions" -v s="$seconds" 'BEGIN { printf "%.0f", (s > 0 ? e / s : 0) }')" "$(field "$findings" edges_found)" \
    "$(field "$findings" bitmap_cvg)" "$(field "$findings" corpus_count)" "$(field "$findings" saved_crashes)" "$(field "$findings" saved_hangs)" >> "$report"
  [ "$crashes" = 0 ] || status=1
done
cat "$report"
exit $status
