/** The child side of the lock tests: `node lock-child.cjs BUNDLE LOCK LOG HOLD_MS wait|nowait`. */
export const LOCK_CHILD = `
const { appendFileSync } = require('node:fs');
const [bundle, lockPath, logPath, holdMs, mode] = process.argv.slice(2);
const { acquireLock } = require(bundle);
(async () => {
  try {
    const release = await acquireLock(lockPath, { wait: mode !== 'nowait', onWait: (h) => console.log('waiting ' + (h ? h.pid + ' ' + h.command : 'unknown')) });
    appendFileSync(logPath, 'S ' + process.pid + '\\n');
    console.log('acquired');
    await new Promise((r) => setTimeout(r, Number(holdMs)));
    appendFileSync(logPath, 'E ' + process.pid + '\\n');
    await release();
    console.log('released');
  } catch (e) {
    console.log('busy ' + e.name + ' ' + (e.holder ? e.holder.pid : ''));
    process.exitCode = 9;
  }
})();
`;
