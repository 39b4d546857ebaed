import { describe, expect, it } from 'vitest';
import { allWarnings, builtObjects, newWarnings, parseDiagnostics, updateWarningDb, type WarningDb } from '../../../src/build/diagnostics.js';

const SRC = '/root/.cache/kharness/work/debian-6.12-x/src';
// What an O= kbuild log looks like: gcc names files by their absolute source path.
const LOG_WITH_WARNING = `  CC      mm/zswap.o
${SRC}/mm/zswap.c: In function 'zswap_swapoff':
${SRC}/mm/zswap.c:1690:22: warning: unused variable 'i' [-Wunused-variable]
 1690 |         unsigned int i;
      |                      ^
  AR      mm/built-in.a
  LD      vmlinux.o`;
const LOG_WITH_ERROR = `  CC      mm/zswap.o
${SRC}/mm/zswap.c: In function 'zswap_store':
${SRC}/mm/zswap.c:1534:13: error: 'old' undeclared (first use in this function); did you mean 'ihold'?
 1534 |         if (old)
${SRC}/mm/zswap.c:1534:13: note: each undeclared identifier is reported only once for each function it appears in
make[4]: *** [${SRC}/scripts/Makefile.build:229: mm/zswap.o] Error 1`;

describe('compiler diagnostics', () => {
  it('reads a gcc warning with file:line:column, message and flag, relative to the tree', () => {
    const [w] = parseDiagnostics(LOG_WITH_WARNING, [SRC]);
    expect(w).toEqual({ severity: 'warning', file: 'mm/zswap.c', line: 1690, column: 22, message: "unused variable 'i'", flag: '-Wunused-variable', object: 'mm/zswap.o' });
  });

  it('reads a gcc error and ignores its notes', () => {
    const d = parseDiagnostics(LOG_WITH_ERROR, [SRC]);
    expect(d).toHaveLength(1);
    expect(d[0]).toMatchObject({ severity: 'error', file: 'mm/zswap.c', line: 1534, message: "'old' undeclared (first use in this function); did you mean 'ihold'?" });
  });

  it('reads linker errors', () => {
    const d = parseDiagnostics("ld: mm/zswap.o: in function `zswap_store':\nld: mm/zswap.o:(.text+0x1a2): undefined reference to `zswap_gone'\n", [SRC]);
    expect(d.some((x) => x.severity === 'error' && /undefined reference to `zswap_gone'/.test(x.message))).toBe(true);
  });

  it('lists the objects a build recompiled', () => {
    expect(builtObjects(LOG_WITH_WARNING)).toEqual(['mm/zswap.o', 'mm/built-in.a', 'vmlinux.o']);
  });
});

describe('warning delta across incremental builds', () => {
  const other: WarningDb = { 'fs/x.o': [{ severity: 'warning', file: 'fs/x.c', line: 5, message: 'old warning', object: 'fs/x.o' }] };

  it('keeps warnings of objects make did not recompile, replaces those it did', () => {
    const db = updateWarningDb(other, LOG_WITH_WARNING, [SRC]);
    expect(allWarnings(db).map((w) => w.message).sort()).toEqual(['old warning', "unused variable 'i'"]);
    const fixed = updateWarningDb(db, '  CC      mm/zswap.o\n', [SRC]);
    expect(allWarnings(fixed).map((w) => w.message)).toEqual(['old warning']);
  });

  it('reports only the warnings a patch added, even when lines moved', () => {
    const before = allWarnings(other);
    const after = allWarnings(updateWarningDb(other, LOG_WITH_WARNING, [SRC]));
    expect(newWarnings(before, after).map((w) => `${w.file}:${w.line}`)).toEqual(['mm/zswap.c:1690']);
    const moved = after.map((w) => ({ ...w, line: (w.line ?? 0) + 7 }));
    expect(newWarnings(after, moved)).toEqual([]);
  });

  it('counts a second copy of an existing warning as new', () => {
    const w = { severity: 'warning' as const, file: 'mm/zswap.c', line: 10, message: "unused variable 'i'" };
    expect(newWarnings([w], [w, { ...w, line: 20 }])).toHaveLength(1);
  });
});

describe('locale', () => {
  it("reads gcc's UTF-8 quotes as ASCII so the same warning compares equal in any locale", () => {
    const utf8 = parseDiagnostics(`${SRC}/mm/zswap.c:1690:22: warning: unused variable ‘i’ [-Wunused-variable]`, [SRC]);
    const c = parseDiagnostics(`${SRC}/mm/zswap.c:1690:22: warning: unused variable 'i' [-Wunused-variable]`, [SRC]);
    expect(utf8).toEqual(c);
  });
});
