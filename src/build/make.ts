import { createWriteStream, existsSync, mkdirSync } from 'node:fs';
import { cpus } from 'node:os';
import path from 'node:path';
import { finished } from 'node:stream/promises';
import { spawnTracked } from '../common/exec.js';
import { cacheDir, kernelConfigsDir } from '../common/paths.js';
import { gitCommonDir, wrapCommand, type SandboxSpec } from '../sandbox/index.js';

export interface MakeOutcome {
  exitCode: number | undefined;
  /** the signal that killed make, if one did (OOM killer, Ctrl-C, a user's kill) */
  signal?: string;
  durationMs: number;
  log: string;
}

export function makeJobs(): number {
  const n = Number(process.env.KHARNESS_JOBS);
  return Number.isInteger(n) && n > 0 ? n : cpus().length;
}

/** ccache is used when installed; its cache lives with ours so CI can keep it between runs. */
export function compilerArgs(): string[] {
  if (process.env.KHARNESS_CCACHE === '0') return [];
  const ccache = ['/usr/bin/ccache', '/usr/local/bin/ccache'].find((p) => existsSync(p));
  return ccache ? [`CC=${ccache} gcc`] : [];
}

/** A fixed build date, in `date`'s own format (gen_initramfs.sh parses it with `date -d`). */
export const REPRODUCIBLE_TIMESTAMP = 'Thu Jan  1 00:00:00 UTC 1970';

export function makeEnv(): Record<string, string> {
  const ccacheDir = path.join(cacheDir(), 'ccache');
  mkdirSync(ccacheDir, { recursive: true });
  return {
    CCACHE_DIR: ccacheDir,
    CCACHE_MAXSIZE: process.env.CCACHE_MAXSIZE ?? '5G',
    // kbuild's own inputs that would otherwise differ per run and defeat the cache, and make the
    // same source and config give a byte-identical bzImage (uname -v: "#1 SMP ... <timestamp>"),
    // which is what lets a step reuse an identical kernel's guest results (run/reuse.ts)
    KBUILD_BUILD_USER: 'kharness',
    KBUILD_BUILD_HOST: 'kharness',
    KBUILD_BUILD_TIMESTAMP: REPRODUCIBLE_TIMESTAMP,
    KBUILD_BUILD_VERSION: '1',
    LC_ALL: 'C',
  };
}

/**
 * The sandbox of a command run in the tree SRC: it writes SRC, WRITABLE (the build dir) and
 * the ccache dir, and reads the repository's git dir (for the kernel's setlocalversion) and our
 * config fragments; nothing else of the host but the system folders.
 */
export function treeSandbox(src: string, writable: string[], env: Record<string, string>, readable: string[] = []): SandboxSpec {
  const gitDir = gitCommonDir(src);
  const ccacheDir = path.join(cacheDir(), 'ccache');
  mkdirSync(ccacheDir, { recursive: true });
  return { cwd: src, writable: [src, ...writable, ccacheDir], readable: [...(gitDir ? [gitDir] : []), kernelConfigsDir, ...readable], env };
}

/** Runs FILE ARGS of the tree at SRC in its sandbox (see treeSandbox), as execa would. */
export function inTreeSandbox(
  src: string,
  writable: string[],
  env: Record<string, string>,
  file: string,
  args: readonly string[],
  readable: string[] = [],
): { file: string; args: string[]; options: { env: Record<string, string>; extendEnv: boolean; cwd: string } } {
  const w = wrapCommand(file, args, treeSandbox(src, writable, env, readable));
  return { file: w.file, args: w.args, options: { env: w.env, extendEnv: w.extendEnv, cwd: src } };
}

/**
 * Runs `make` in SRC with O=BUILD for the given targets, streaming the combined output to
 * LOGFILE. make's exit code is returned, never thrown: the caller decides fail versus error.
 */
export async function runMake(src: string, buildDir: string, targets: string[], logFile: string, extraArgs: string[] = [], onOutput?: (chunk: string) => void): Promise<MakeOutcome> {
  mkdirSync(path.dirname(logFile), { recursive: true });
  const out = createWriteStream(logFile);
  const started = Date.now();
  const cmd = inTreeSandbox(src, [buildDir], makeEnv(), 'make', [`-j${makeJobs()}`, `O=${buildDir}`, ...compilerArgs(), ...extraArgs, ...targets]);
  const child = spawnTracked(cmd.file, cmd.args, {
    ...cmd.options,
    all: true,
    buffer: { all: true },
    maxBuffer: 256 * 1024 * 1024,
    stdin: 'ignore',
  });
  // end: false, so the log is closed by us after make exits, never twice.
  child.all?.pipe(out, { end: false });
  if (onOutput) child.all?.on('data', (chunk: Buffer) => onOutput(chunk.toString('utf8')));
  const result = await child;
  out.end();
  await finished(out).catch(() => undefined);
  return {
    exitCode: result.exitCode,
    signal: result.signal ?? undefined,
    durationMs: Date.now() - started,
    log: String(result.all ?? ''),
  };
}
