#!/usr/bin/env bash
# The README's second command (`npm test`): every test, unit then end-to-end.
# End-to-end tests build real kernels from the Debian 6.12 tree and boot them under virtme-ng;
# they either run for real or fail. Set KHARNESS_E2E=0 to run only the unit tests locally.
# `npm run test:long` (KHARNESS_LONG=1) also runs tests/long: the debug config and the 6.1 tree,
# each a first kernel build of its own, which a fresh machine cannot fit in CI's budget.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"
bash scripts/setup.sh
started=$(date +%s)
npm run typecheck --silent
npx vitest run --project unit
if [ "${KHARNESS_E2E:-1}" != 0 ]; then
  npx vitest run --project e2e
  if [ "${KHARNESS_LONG:-0}" = 1 ]; then
    npx vitest run --project long
  fi
fi
echo "tests finished in $(( $(date +%s) - started ))s"
