import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../common/atomic.js';
import { InfraError, errorMessage } from '../common/errors.js';
import { acquireLock, LockBusyError, type ReleaseLock } from '../common/lock.js';
import { cacheDir } from '../common/paths.js';
import { RobotStateSchema, emptyState, type RobotState } from './decide.js';

/** `$KHARNESS_CACHE/robot/<list>-<hash>.json`: one state file per list URL (never a name from mail). */
export function statePath(listUrl: string): string {
  const url = new URL(listUrl);
  const name = `${url.host}${url.pathname}`.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 60);
  const hash = createHash('sha256').update(listUrl.replace(/\/+$/, '')).digest('hex').slice(0, 12);
  return path.join(cacheDir(), 'robot', `${name}-${hash}.json`);
}

export async function readState(listUrl: string): Promise<RobotState> {
  const file = statePath(listUrl);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return emptyState(listUrl);
    throw new InfraError(`cannot read the robot state ${file}: ${errorMessage(err)}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new InfraError(`${file} is not valid JSON: ${errorMessage(err)}`, 'move it away to start afresh (every series on the list would be tested again)');
  }
  const parsed = RobotStateSchema.safeParse(data);
  if (!parsed.success) throw new InfraError(`${file} is not a kharness robot state: ${parsed.error.issues[0]?.message ?? 'invalid'}`, 'move it away to start afresh (every series on the list would be tested again)');
  return parsed.data;
}

export async function writeState(state: RobotState): Promise<void> {
  await writeFileAtomic(statePath(state.list), `${JSON.stringify(state, null, 2)}\n`);
}

/** One watcher per list: a second one would test the same series twice. */
export async function lockState(listUrl: string): Promise<ReleaseLock> {
  const file = `${statePath(listUrl)}.lock`;
  try {
    return await acquireLock(file, { wait: false });
  } catch (err) {
    if (err instanceof LockBusyError) throw new InfraError(`another kharness watch is watching ${listUrl} (${err.message})`, 'stop it first, or watch another list');
    throw err;
  }
}
