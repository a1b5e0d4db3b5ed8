#!/bin/bash
# Two test runs side by side on the same machine (issue 11, goal 6): two clones of HEAD, each
# running the same command at the same time, with the load average sampled every 30 s.
# The clones share nothing but the CPU: each test makes its own temp dirs and listens on port 0.
#
#   bash bench/test-pair.sh                                   # npm test's three steps in both
#   bash bench/test-pair.sh npx vitest run --config vitest.e2e.config.ts
#
# With no command, each clone runs the steps of `npm test` (tsc, vitest run, the e2e config) one
# after another but without npm's `&&`: a failure in the unit half would otherwise hide the e2e
# half. Each step's exit code is in <side>.steps; the clone fails if any step failed.
#
# Logs and the load samples stay in the printed directory (PAIR_DIR=/tmp/x: /tmp/x-XXXXXX).
set -u
cmd=("$@")
steps='s=0; for step in "npx tsc --noEmit -p ." "npx vitest run" "npx vitest run --config vitest.e2e.config.ts"; do
  echo "=== $step ($(date -u +%T))"; $step; r=$?; echo "$step: exit $r ($(date -u +%T))" >> "$STEPS"; [ $r -ne 0 ] && s=1
done; exit $s'
[ ${#cmd[@]} -eq 0 ] && cmd=(bash -c "$steps")
repo=$(git rev-parse --show-toplevel)
out=$(mktemp -d "${PAIR_DIR:-/tmp/tongban-test-pair}-XXXXXX")
for side in a b; do
  git clone -q "$repo" "$out/$side"
  ln -s "$repo/node_modules" "$out/$side/node_modules"
done
echo "commit $(git -C "$out/a" log --oneline -1); command: ${cmd[*]}; logs in $out"
( while true; do echo "$(date -u +%T) $(cut -d' ' -f1-3 /proc/loadavg)"; sleep 30; done ) > "$out/load" &
sampler=$!
start=$(date +%s)
for side in a b; do
  ( cd "$out/$side" && STEPS="$out/$side.steps" "${cmd[@]}" > "$out/$side.log" 2>&1; echo $? > "$out/$side.exit" ) &
done
wait $(jobs -p | grep -v "^$sampler$")
kill $sampler 2>/dev/null
for side in a b; do
  echo "$side: exit $(cat "$out/$side.exit"); $(sed 's/\x1b\[[0-9;]*m//g' "$out/$side.log" | grep -E '^ +(Test Files|Tests) ' | tr -s ' ' | tr '\n' ';')"
  [ -f "$out/$side.steps" ] && sed "s/^/  $side: /" "$out/$side.steps"
done
echo "wall $(( $(date +%s) - start )) s; load avg (1 min) min / mean / max: $(awk '{print $2}' "$out/load" | sort -n | awk '{a[NR]=$1; s+=$1} END {printf "%s / %.1f / %s", a[1], s/NR, a[NR]}')"
