// `npm test`: the type checks, then every Vitest project (Node and Chromium), then the one
// closing line CI reads: "N passed, N failed". Exits non-zero when anything failed.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';

const report = '.vitest-report.json';
const args = process.argv.slice(2);

function run(cmd, cmdArgs) {
  console.log(`\n$ ${cmd} ${cmdArgs.join(' ')}`);
  const r = spawnSync(cmd, cmdArgs, { stdio: 'inherit' });
  return r.status ?? 1;
}

let failedSteps = 0;
for (const project of ['tsconfig.json', 'tsconfig.browser.json']) {
  if (run('npx', ['tsc', '-p', project]) !== 0) failedSteps++;
}
rmSync(report, { force: true });
const vitest = run('npx', [
  'vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...args,
]);

let passed = 0;
let failed = failedSteps;
let skipped = 0;
if (existsSync(report)) {
  const r = JSON.parse(readFileSync(report, 'utf8'));
  passed = r.numPassedTests;
  // Failed tests, plus files that failed without a failed test (a file that did not load).
  const brokenFiles = r.testResults.filter(
    (f) => f.status === 'failed' && !f.assertionResults.some((a) => a.status === 'failed'),
  ).length;
  failed += r.numFailedTests + brokenFiles;
  skipped = r.numPendingTests + r.numTodoTests;
} else if (vitest !== 0) {
  failed++;
}
if (vitest !== 0 && failed === 0) failed = 1;
if (failedSteps > 0) console.log(`${failedSteps} type check(s) failed`);
console.log(`\n${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
