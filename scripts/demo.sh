#!/usr/bin/env bash
# The README's first command (`npm run demo`): the bundled demo series, served by our own
# lore-shaped server, run through kharness on the default Debian 6.12 tree, then bisected.
# Leaves reports/<series>/ (report.md, index.html, ...) and reports/<series>/bisect/.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"
bash scripts/setup.sh

kh() { node "$here/bin/kharness.js" "$@"; }
log=$(mktemp)
# node itself in the background, not the kh function: `func &` forks a subshell, $! is that
# subshell, and killing it leaves node serving. EXIT runs on errors (set -e) and on the signals
# too, since their traps exit; INT/TERM then end with the usual 128+signal status.
node "$here/bin/kharness.js" serve-lore patches --port 0 > "$log" 2>&1 &
server=$!
cleanup() { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -f "$log"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
for _ in $(seq 50); do [ -s "$log" ] && break; sleep 0.1; done
base_url=$(head -n1 "$log")
thread="$base_url/linux-mm/20241202140533.77310-1-marco.bianchi@example.com/"
echo "demo: lore server at $base_url; running the series at $thread"

set +e
# One boot per step (the default variant): the demo's bug shows there. A plain `kharness run`
# boots every variant of the default set (README, Variants).
kh run "$thread" --profile quick --variants default
run_rc=$?
kh bisect --series "$thread" --tests swap-cycle --profile quick
bisect_rc=$?
set -e
# kharness exits 1 when it found a bad patch, which is what this demo is about.
for rc in $run_rc $bisect_rc; do
  if [ "$rc" -ge 2 ]; then echo "demo: kharness failed (exit $rc)" >&2; exit "$rc"; fi
done
echo "demo: see reports/ for report.md, index.html and bisect/bisect.md"
