/**
 * What the build reads: a step whose changes the kernel build (make bzImage) and our build of the
 * tree's test_zswap can never read has, byte for byte, the previous step's kernel and binaries.
 * Conservative: a path not known to be unread is read.
 */

/** Top-level files no build step opens. */
const UNREAD_TOP = new Set(['MAINTAINERS', 'CREDITS', 'README', '.mailmap', 'COPYING', '.get_maintainer.ignore']);

/** Build-system files: read wherever they are (the top Kconfig sources Documentation/Kconfig). */
const BUILD_SYSTEM = /(^|\/)(Kconfig[^/]*|Makefile[^/]*|Kbuild[^/]*|[^/]*\.mk)$/;

export function buildMayRead(file: string): boolean {
  if (UNREAD_TOP.has(file)) return false;
  if (BUILD_SYSTEM.test(file)) return true;
  if (file.startsWith('Documentation/') || file.startsWith('LICENSES/')) return false;
  // Selftests other than cgroup's (test_zswap.c, cgroup_util.*); the headers directly in
  // tools/testing/selftests/ (kselftest.h) are read by test_zswap.
  const st = /^tools\/testing\/selftests\/([^/]+)\//.exec(file);
  if (st) return st[1] === 'cgroup';
  return true;
}

/** The changed files nothing builds from, or undefined when any of them is read. */
export function onlyUnreadChanges(files: readonly string[]): readonly string[] | undefined {
  return files.every((f) => !buildMayRead(f)) ? files : undefined;
}

/** How a report names the files of such a step: the first few, then a count. */
export function describeUnread(files: readonly string[]): string {
  if (!files.length) return 'no file changed';
  const shown = files.slice(0, 3).join(', ');
  return files.length > 3 ? `${shown} and ${files.length - 3} more` : shown;
}
