import { readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeDropped, findDroppedOptions, listConfigs, parseDotConfig, parseFragment, resolveConfig } from '../../../src/build/config.js';
import { InputError } from '../../../src/common/errors.js';

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

  it('rejects an unknown config name with the list of known ones', () => {
    expect(() => resolveConfig('zswp')).toThrow(InputError);
    expect(() => resolveConfig('zswp')).toThrow(/unknown config "zswp"/);
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
});
