import { describe, expect, it } from 'vitest';
import { classifyMakeFailure } from '../../../src/build/index.js';
import { parseDiagnostics } from '../../../src/build/diagnostics.js';

const compileError = "mm/zswap.c:1534:13: error: 'old' undeclared (first use in this function)\nmake[4]: *** [scripts/Makefile.build:229: mm/zswap.o] Error 1";

describe('make failures: the patch (fail) or the environment (error)', () => {
  it('passes a successful build through', () => {
    expect(classifyMakeFailure({ exitCode: 0, log: '' }, [])).toBeUndefined();
  });

  it('blames the patch for a compiler error, naming its line', () => {
    const r = classifyMakeFailure({ exitCode: 2, log: compileError }, parseDiagnostics(compileError));
    expect(r).toEqual({ verdict: 'fail', summary: "build error: mm/zswap.c:1534: 'old' undeclared (first use in this function)" });
  });

  it('never blames the patch when make was killed, the disk is full or memory ran out', () => {
    expect(classifyMakeFailure({ exitCode: undefined, signal: 'SIGKILL', log: '' }, [])?.verdict).toBe('error');
    const full = 'mm/zswap.o: No space left on device\nmake[4]: *** Error 1';
    expect(classifyMakeFailure({ exitCode: 2, log: full }, [])).toEqual({ verdict: 'error', summary: 'the build environment failed: No space left on device' });
    const oom = `${compileError}\ngcc: fatal error: Killed signal terminated program cc1`;
    expect(classifyMakeFailure({ exitCode: 2, log: oom }, parseDiagnostics(oom))?.verdict).toBe('error');
  });

  it('fails a build that stops without a diagnostic, with the log tail', () => {
    const r = classifyMakeFailure({ exitCode: 2, log: 'make[1]: *** [Makefile:1234: vmlinux] Error 1' }, []);
    expect(r?.verdict).toBe('fail');
    expect(r?.summary).toMatch(/without a compiler diagnostic:\nmake\[1\]/);
  });

  it('reads only tool diagnostics as the environment, never the code gcc quotes or a located #error', () => {
    // gcc 12 quotes the offending source line: its text is the tree's, not the machine's.
    const quoted = [
      "mm/zswap.c:1534:9: error: implicit declaration of function 'zswap_oom' [-Werror=implicit-function-declaration]",
      ' 1534 |         zswap_oom("Cannot allocate memory");',
      '      |         ^~~~~~~~~',
      'make[4]: *** [scripts/Makefile.build:229: mm/zswap.o] Error 1',
    ].join('\n');
    const r = classifyMakeFailure({ exitCode: 2, log: quoted }, parseDiagnostics(quoted));
    expect(r?.verdict).toBe('fail');
    expect(r?.summary).toMatch(/^build error: mm\/zswap.c:1534: implicit declaration/);
    // A patch cannot turn its own compile error into our `error` with #error or $(error).
    const hashError = 'mm/zswap.c:3:2: error: #error "No space left on device"\nmake[4]: *** [scripts/Makefile.build:229: mm/zswap.o] Error 1';
    expect(classifyMakeFailure({ exitCode: 2, log: hashError }, parseDiagnostics(hashError))?.verdict).toBe('fail');
    const makeError = 'mm/Makefile:12: *** No space left on device.  Stop.\nmake[2]: *** [scripts/Makefile.build:478: mm] Error 2';
    expect(classifyMakeFailure({ exitCode: 2, log: makeError }, [])?.verdict).toBe('fail');
    const asmError = '{standard input}:12: Error: No space left on device\nmake[4]: *** [scripts/Makefile.build:229: mm/zswap.o] Error 1';
    expect(classifyMakeFailure({ exitCode: 2, log: asmError }, [])?.verdict).toBe('fail');
  });

  it('still knows the tools\' own words for a full disk, no memory and a missing toolchain', () => {
    for (const line of [
      'cc1: fatal error: error writing to /tmp/ccA1b2.s: No space left on device',
      "{standard input}:1234: Fatal error: can't write 4 bytes to section .text of mm/zswap.o: 'No space left on device'",
      '/usr/bin/ld: final link failed: No space left on device',
      'virtual memory exhausted: Cannot allocate memory',
      '/bin/sh: 1: gcc: not found',
      'make[3]: gcc: No such file or directory',
      'ccache: error: Could not find compiler "gcc" in PATH',
      "gcc: fatal error: cannot execute 'cc1': execvp: No such file or directory",
    ]) {
      expect(classifyMakeFailure({ exitCode: 2, log: `${line}\nmake[4]: *** Error 1` }, []), line).toMatchObject({ verdict: 'error' });
    }
  });
});
