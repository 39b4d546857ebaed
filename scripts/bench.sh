#!/usr/bin/env bash
# `npm run bench [-- SECTION...]`: figures, not pass/fail. Sections: lore model replay build lts boot suite debug sandbox run reuse queue (the fleet's queue: a private redis-server, stub runners) queue-real (four real series through real workers).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$here/scripts/setup.sh"
node "$here/dist/bench/index.js" "$@"
