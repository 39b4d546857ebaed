/**
 * The child side of the exec tests: `node exec-child.cjs BUNDLE MODE PIDFILE`. It starts a shell
 * that forks a background `sleep` (a grandchild no parent-death signal reaches), writes both
 * pids, says "started" and then lives until it is killed (or, in mode `finish`, the shell exits once
 * PIDFILE.go exists, and the child says "finished" when spawnTracked's promise settles).
 */
export const EXEC_CHILD = `
const { spawn } = require('node:child_process');
const [bundle, mode, pidFile] = process.argv.slice(2);
const { spawnTracked, withBackstop } = require(bundle);
const sh = ['-c', 'sleep 300 >/dev/null 2>&1 & echo "$$ $!" > "$1"; if [ "$2" = finish ]; then while [ ! -e "$1.go" ]; do sleep 0.05; done; exit 0; fi; exec sleep 301', 'sh', pidFile, mode];
let child;
if (mode === 'tracked' || mode === 'finish') child = spawnTracked('sh', sh);
else if (mode === 'reaper-only') child = spawnTracked('sh', sh, { deathSignal: false });
else if (mode === 'backstop') {
  const [file, args] = withBackstop(300, 5, 'sh', sh);
  child = spawnTracked(file, args, { deathSignal: false });
} else if (mode === 'untracked') child = spawn('sh', sh, { detached: true, stdio: 'ignore' });
const fs = require('node:fs');
const poll = setInterval(() => {
  if (fs.existsSync(pidFile) && fs.readFileSync(pidFile, 'utf8').endsWith('\\n')) {
    clearInterval(poll);
    console.log('started');
  }
}, 20);
if (mode === 'finish') Promise.resolve(child).then(() => console.log('finished'));
else setInterval(() => undefined, 1000);
`;
