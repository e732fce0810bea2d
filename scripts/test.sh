#!/usr/bin/env bash
# `npm test`: set-up, then every check. Ends with one line
# "ferry: N passed, N failed, N skipped" summing the unit and e2e runs.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --build || exit 1
mkdir -p test-results

status=0
step() {
  printf '\n== %s\n' "$1"
  shift
  "$@" || status=1
}

step "typecheck (tsc)" npx tsc --noEmit
step "lint (eslint)" npx eslint --max-warnings 0 .
step "unit and integration tests (vitest)" npx vitest run --reporter=default --reporter=json --outputFile=test-results/vitest.json
step "end-to-end tests (playwright, Debian chromium)" env PLAYWRIGHT_JSON_OUTPUT_NAME=test-results/playwright.json npx playwright test --reporter=list,json

node - <<'JS'
const fs = require("node:fs");
let passed = 0, failed = 0, skipped = 0;
try {
  const v = JSON.parse(fs.readFileSync("test-results/vitest.json", "utf8"));
  passed += v.numPassedTests; failed += v.numFailedTests; skipped += v.numPendingTests + v.numTodoTests;
} catch { failed += 1; console.error("vitest wrote no results"); }
try {
  const p = JSON.parse(fs.readFileSync("test-results/playwright.json", "utf8"));
  passed += p.stats.expected; failed += p.stats.unexpected + p.stats.flaky; skipped += p.stats.skipped;
} catch { failed += 1; console.error("playwright wrote no results"); }
console.log(`\nferry: ${passed} passed, ${failed} failed, ${skipped} skipped`);
JS
exit $status
