import { readFileSync } from 'node:fs';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeDropped, findDroppedOptions, listConfigs, makeConfig, parseDotConfig, parseFragment, parseKernelVersion, resolveConfig, resolveConfigList } from '../../../src/build/config.js';
import { InfraError, InputError } from '../../../src/common/errors.js';

async function configDir(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'kh-cfg-'));
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, `${name}.config`), text);
  return dir;
}

describe('config fragments', () => {
  it('has the zswap and zswap-debug configs, each on top of base', () => {
    expect(listConfigs()).toEqual(expect.arrayContaining(['zswap', 'zswap-debug']));
    const debug = resolveConfig('zswap-debug').fragments.map((f) => path.basename(f));
    expect(debug).toEqual(['base.config', 'zswap.config', 'zswap-debug.config']);
  });

  it('asks for what the issue names: zswap with its shrinker, zsmalloc, memcg, debugfs, counters, pageout, kprobe events', () => {
    const want = parseFragment(readFileSync(resolveConfig('zswap').fragments[1]!, 'utf8'));
    const names = new Map(want.map((r) => [r.option, r.value]));
    for (const o of ['CONFIG_ZSWAP', 'CONFIG_ZSWAP_SHRINKER_DEFAULT_ON', 'CONFIG_ZSMALLOC', 'CONFIG_MEMCG', 'CONFIG_DEBUG_FS', 'CONFIG_VM_EVENT_COUNTERS', 'CONFIG_ADVISE_SYSCALLS', 'CONFIG_KPROBE_EVENTS']) expect(names.get(o), o).toBe('y');
    const dbg = new Map(parseFragment(readFileSync(resolveConfig('zswap-debug').fragments[2]!, 'utf8')).map((r) => [r.option, r.value]));
    for (const o of ['CONFIG_KASAN', 'CONFIG_PROVE_LOCKING', 'CONFIG_DEBUG_VM', 'CONFIG_DEBUG_LIST', 'CONFIG_KFENCE', 'CONFIG_DETECT_HUNG_TASK', 'CONFIG_SOFTLOCKUP_DETECTOR']) expect(dbg.get(o), o).toBe('y');
  });

  it('merges a fragment\'s @VERSION fragment right after it for that kernel version only, and hashes it', () => {
    const names = (v?: string): string[] => resolveConfig('zswap-debug', undefined, v).fragments.map((f) => path.basename(f));
    expect(names('6.1')).toEqual(['base.config', 'base@6.1.config', 'zswap.config', 'zswap@6.1.config', 'zswap-debug.config', 'zswap-debug@6.1.config']);
    expect(names('6.12')).toEqual(names());
    expect(resolveConfig('zswap', undefined, '6.1').hash).not.toBe(resolveConfig('zswap').hash);
    expect(listConfigs()).not.toContain('zswap@6.1');
    expect(() => resolveConfig('zswap@6.1')).toThrow(/is not a config's name/);
    // 6.1 has no shrinker option: its fragment turns the request off (absent is then fine).
    const for61 = resolveConfig('zswap', undefined, '6.1').fragments.flatMap((f) => parseFragment(readFileSync(f, 'utf8'), f));
    const last = new Map(for61.map((r) => [r.option, r.value]));
    expect(last.get('CONFIG_ZSWAP_SHRINKER_DEFAULT_ON')).toBe('n');
    expect(last.get('CONFIG_ZSWAP_ZPOOL_DEFAULT_ZBUD')).toBe('y');
  });

  it('reads VERSION.PATCHLEVEL from a top Makefile', () => {
    expect(parseKernelVersion('# SPDX\nVERSION = 6\nPATCHLEVEL = 1\nSUBLEVEL = 192\n')).toBe('6.1');
    expect(parseKernelVersion('VERSION = 6\n')).toBeUndefined();
  });

  it('rejects an unknown config name with the list of known ones', () => {
    expect(() => resolveConfig('zswp')).toThrow(InputError);
    expect(() => resolveConfig('zswp')).toThrow(/unknown config "zswp"/);
  });

  it('takes a list of configs for a run, each known, none twice; other commands refuse a list', () => {
    expect(resolveConfigList('zswap,zswap-debug')).toEqual(['zswap', 'zswap-debug']);
    expect(resolveConfigList(' zswap ')).toEqual(['zswap']);
    expect(() => resolveConfigList('zswap,')).toThrow(InputError);
    expect(() => resolveConfigList('zswap,zswap')).toThrow(/names zswap twice/);
    expect(() => resolveConfigList('zswap,nope')).toThrow(/unknown config "nope"/);
    expect(() => resolveConfig('zswap,zswap-debug')).toThrow(/one config at a time/);
    expect(() => resolveConfig('../kernel-configs/zswap')).toThrow(/is not a config's name/);
  });

  it('rejects fragments that include each other', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'kh-cfg-'));
    await writeFile(path.join(dir, 'base.config'), 'CONFIG_X=y\n');
    await writeFile(path.join(dir, 'a.config'), '# kharness-base: b\n');
    await writeFile(path.join(dir, 'b.config'), '# kharness-base: a\n');
    expect(() => resolveConfig('a', dir)).toThrow(/include each other: a -> b -> a/);
  });

  it('finds options olddefconfig dropped or changed, the last fragment winning', () => {
    const requests = [
      ...parseFragment('CONFIG_A=y\nCONFIG_TYPO=y\n# CONFIG_C is not set\nCONFIG_S="lzo"\n', 'one.config'),
      ...parseFragment('CONFIG_A=n\n', 'two.config'),
    ];
    const final = parseDotConfig('# CONFIG_A is not set\nCONFIG_C=y\nCONFIG_S="lzo"\n');
    const dropped = findDroppedOptions(requests, final);
    expect(dropped.map((d) => d.request.option)).toEqual(['CONFIG_TYPO', 'CONFIG_C']);
    expect(describeDropped(dropped[0]!)).toBe('CONFIG_TYPO=y (one.config:2): the kernel has no such option, or its dependencies are not met');
    expect(describeDropped(dropped[1]!)).toMatch(/CONFIG_C=not set \(one.config:3\): olddefconfig made it y/);
  });

  it('merges bases before the fragment, each once, in the order named (a diamond keeps one base)', async () => {
    const dir = await configDir({ base: 'CONFIG_BASE=y\n', left: 'CONFIG_L=y\n', right: '# kharness-base: base left\nCONFIG_R=y\n', top: '# kharness-base: left right\nCONFIG_T=y\n' });
    try {
      expect(resolveConfig('top', dir).fragments.map((f) => path.basename(f))).toEqual(['base.config', 'left.config', 'right.config', 'top.config']);
      expect(resolveConfig('base', dir).fragments.map((f) => path.basename(f))).toEqual(['base.config']);
      expect(listConfigs(dir)).toEqual(['left', 'right', 'top']);
      await writeFile(path.join(dir, 'broken.config'), '# kharness-base: left missing\n');
      expect(() => resolveConfig('broken', dir)).toThrow(/unknown config "missing" \(named by broken\)/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('keys the build folder by the fragments\' contents: the hash moves when any fragment changes', async () => {
    const dir = await configDir({ base: 'CONFIG_BASE=y\n', z: 'CONFIG_ZSWAP=y\n' });
    try {
      const first = resolveConfig('z', dir).hash;
      expect(first).toMatch(/^[0-9a-f]{12}$/);
      expect(resolveConfig('z', dir).hash).toBe(first);
      await writeFile(path.join(dir, 'base.config'), 'CONFIG_BASE=y\nCONFIG_MORE=y\n');
      const afterBase = resolveConfig('z', dir).hash;
      expect(afterBase).not.toBe(first);
      await writeFile(path.join(dir, 'z.config'), 'CONFIG_ZSWAP=n\n');
      expect(resolveConfig('z', dir).hash).not.toBe(afterBase);
      // The bundled configs differ from each other.
      expect(resolveConfig('zswap').hash).not.toBe(resolveConfig('zswap-debug').hash);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('parses option lines with their line numbers, ignoring comments and anything else', () => {
    const text = '# a comment\n  CONFIG_A=y  \nCONFIG_S="lz4 hc"\n# CONFIG_B is not set\n#CONFIG_C is not set\nCONFIG_N=0x10\nnot an option\nCONFIG_lower_9=m\n';
    expect(parseFragment(text, 'f.config')).toEqual([
      { option: 'CONFIG_A', value: 'y', fragment: 'f.config', line: 2 },
      { option: 'CONFIG_S', value: '"lz4 hc"', fragment: 'f.config', line: 3 },
      { option: 'CONFIG_B', value: 'n', fragment: 'f.config', line: 4 },
      { option: 'CONFIG_N', value: '0x10', fragment: 'f.config', line: 6 },
      { option: 'CONFIG_lower_9', value: 'm', fragment: 'f.config', line: 8 },
    ]);
    expect([...parseDotConfig('CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_A=m\n')]).toEqual([
      ['CONFIG_A', 'm'],
      ['CONFIG_B', 'n'],
    ]);
  });

  it('accepts "not set" as absent, but not a requested value that changed or vanished', () => {
    const req = parseFragment('# CONFIG_GONE is not set\n# CONFIG_OFF is not set\n# CONFIG_ON is not set\nCONFIG_S="zstd"\nCONFIG_M=m\n', 'r.config');
    const final = parseDotConfig('# CONFIG_OFF is not set\nCONFIG_ON=y\nCONFIG_S="lzo"\nCONFIG_M=y\n');
    const dropped = findDroppedOptions(req, final);
    expect(dropped.map((d) => [d.request.option, d.got])).toEqual([
      ['CONFIG_ON', 'y'],
      ['CONFIG_S', '"lzo"'],
      ['CONFIG_M', 'y'],
    ]);
    expect(describeDropped(dropped[0]!)).toBe('CONFIG_ON=not set (r.config:3): olddefconfig made it y (unmet dependency or a select forces it)');
    expect(describeDropped({ request: req[3]!, got: 'n' })).toBe('CONFIG_S="zstd" (r.config:4): olddefconfig made it not set (unmet dependency or a select forces it)');
    expect(findDroppedOptions(req.slice(0, 2), final)).toEqual([]);
  });

  it('reuses a build folder configured from the same fragments, and redoes one from others', async () => {
    const dir = await configDir({ base: 'CONFIG_BASE=y\n', z: 'CONFIG_ZSWAP=y\n' });
    const build = path.join(dir, 'build');
    const notATree = path.join(dir, 'src');
    try {
      await mkdir(build);
      await mkdir(notATree);
      const plan = resolveConfig('z', dir);
      await writeFile(path.join(build, '.config'), 'CONFIG_ZSWAP=y\n');
      await writeFile(path.join(build, '.kharness-config'), `${plan.hash}\n`);
      // Same hash: nothing runs (there is no kernel source here for make to run in).
      await expect(makeConfig(notATree, build, plan, () => undefined)).resolves.toEqual({ reused: true });
      // Another hash: make runs, fails in a folder without a Makefile, and that is our error.
      await writeFile(path.join(build, '.kharness-config'), 'somethingelse\n');
      const lines: string[] = [];
      const err = await makeConfig(notATree, build, plan, (l) => lines.push(l)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InfraError);
      expect((err as Error).message).toMatch(/^make -s O=.* tinyconfig failed \(exit 2\)/);
      expect(lines.join('\n')).toMatch(/No rule to make target|No targets|Makefile/);
      // Without the .config the stamp alone is not trusted.
      await rm(path.join(build, '.config'));
      await writeFile(path.join(build, '.kharness-config'), `${plan.hash}\n`);
      await expect(makeConfig(notATree, build, plan, () => undefined)).rejects.toThrow(InfraError);
      expect(existsSync(path.join(build, '.config.kharness'))).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
