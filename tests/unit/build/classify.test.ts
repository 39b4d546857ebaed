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
});
