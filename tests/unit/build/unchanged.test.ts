import { describe, expect, it } from 'vitest';
import { buildMayRead, describeUnread, onlyUnreadChanges } from '../../../src/build/unchanged.js';

describe('what the build reads', () => {
  it('never reads documentation, MAINTAINERS or other selftests', () => {
    for (const f of ['Documentation/admin-guide/mm/zswap.rst', 'MAINTAINERS', 'CREDITS', '.mailmap', 'LICENSES/preferred/GPL-2.0', 'tools/testing/selftests/mm/run_vmtests.sh'])
      expect(buildMayRead(f), f).toBe(false);
  });

  it('reads code, build-system files anywhere, and what test_zswap is built from', () => {
    for (const f of [
      'mm/zswap.c', 'include/linux/zswap.h', 'Makefile', 'Documentation/Kconfig', 'Documentation/Makefile', 'tools/testing/selftests/cgroup/test_zswap.c',
      'tools/testing/selftests/cgroup/cgroup_util.h', 'tools/testing/selftests/kselftest.h', 'tools/testing/selftests/lib.mk', 'tools/objtool/check.c', 'scripts/setlocalversion',
      'tools/testing/selftests/mm/Makefile', 'README.md',
    ])
      expect(buildMayRead(f), f).toBe(true);
  });

  it('a step is unchanged only when every file it changed is unread', () => {
    expect(onlyUnreadChanges(['Documentation/admin-guide/mm/zswap.rst', 'MAINTAINERS'])).toEqual(['Documentation/admin-guide/mm/zswap.rst', 'MAINTAINERS']);
    expect(onlyUnreadChanges(['Documentation/admin-guide/mm/zswap.rst', 'mm/zswap.c'])).toBeUndefined();
    expect(onlyUnreadChanges([])).toEqual([]);
    expect(describeUnread(['a', 'b', 'c', 'd', 'e'])).toBe('a, b, c and 2 more');
    expect(describeUnread([])).toBe('no file changed');
  });
});
