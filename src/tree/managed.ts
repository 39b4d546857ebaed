import path from 'node:path';
import { execa } from 'execa';
import { InfraError, InputError } from '../common/errors.js';
import { managedTreeName, projectRoot, treeArgPath, treeIsReady } from '../common/paths.js';
import { openKernelTree, type KernelTree } from './worktree.js';

/**
 * Opens what `--tree` names. A managed tree that was never unpacked (setup unpacks only the
 * default one: each takes minutes) is unpacked now by scripts/setup.sh, once, so naming
 * `--tree debian-6.1` on a fresh machine just works.
 */
export async function openTreeArg(arg: string | undefined, work?: string): Promise<KernelTree> {
  const repo = treeArgPath(arg);
  const name = managedTreeName(repo);
  if (name && !treeIsReady(repo)) await unpackManagedTree(name);
  return openKernelTree(repo, work);
}

async function unpackManagedTree(name: string): Promise<void> {
  // Said before the wait, so a run that goes quiet for minutes is not taken for a hung one.
  process.stderr.write(`kharness: unpacking the managed tree ${name} (Debian's kernel source into a git tree): several minutes, once per machine\n`);
  const r = await execa('bash', [path.join(projectRoot, 'scripts', 'setup.sh'), name], { stdout: 'inherit', stderr: 'inherit', reject: false });
  if (r.exitCode === 2) throw new InputError(`there is no managed tree ${name}`, 'the managed trees are debian-6.12 and debian-6.1; or give --tree a kernel git tree folder');
  if (r.exitCode !== 0) throw new InfraError(`unpacking the managed tree ${name} failed (scripts/setup.sh exit ${r.exitCode})`);
}
