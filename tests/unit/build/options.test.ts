import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { annotateDropped, describeDropped, findDroppedOptions, parseDotConfig, parseFragment, parseKconfig, readKconfigSymbols } from '../../../src/build/config.js';

const MM_KCONFIG = `
config ZSWAP
	bool "Compressed cache for swap pages"
	depends on SWAP
	select CRYPTO

config ZSMALLOC
	tristate
	prompt "N:1 compression allocator (zsmalloc)" if (ZSWAP || ZRAM)
	depends on MMU

if ZSWAP
config ZSWAP_SHRINKER_DEFAULT_ON
	bool "Shrink the zswap pool on memory pressure"
endif

menuconfig SWAP
	bool "Support for paging of anonymous memory (swap)"
	depends on MMU && BLOCK # comment
`;

describe('Kconfig symbols', () => {
  it('reads each symbol with its depends on, prompt conditions and enclosing ifs', () => {
    const syms = parseKconfig(MM_KCONFIG);
    expect([...syms.keys()].sort()).toEqual(['SWAP', 'ZSMALLOC', 'ZSWAP', 'ZSWAP_SHRINKER_DEFAULT_ON']);
    expect(syms.get('ZSWAP')!.dependsOn).toEqual(['SWAP']);
    expect(syms.get('ZSMALLOC')!.dependsOn).toEqual(['(prompt shown if (ZSWAP || ZRAM))', 'MMU']);
    expect(syms.get('ZSWAP_SHRINKER_DEFAULT_ON')!.dependsOn).toEqual(['ZSWAP']);
    expect(syms.get('SWAP')!.dependsOn).toEqual(['MMU && BLOCK']);
  });

  it('reads help text as prose, not as dependencies, and resumes after it', () => {
    const syms = parseKconfig(`config KPROBE_EVENTS
	depends on KPROBES
	help
	  Only useful when the
	  depends on a system is reliable for Real Time tasks.

	  More help.
config NEXT
	depends on MMU
`);
    expect(syms.get('KPROBE_EVENTS')!.dependsOn).toEqual(['KPROBES']);
    expect(syms.get('NEXT')!.dependsOn).toEqual(['MMU']);
  });

  it('finds the symbols of every Kconfig file in a tree', async () => {
    const src = await mkdtemp(path.join(tmpdir(), 'kh-kconfig-'));
    await mkdir(path.join(src, 'mm'));
    await mkdir(path.join(src, '.git'));
    await writeFile(path.join(src, 'mm', 'Kconfig'), MM_KCONFIG);
    await writeFile(path.join(src, 'Kconfig.debug'), 'config DEBUG_KERNEL\n\tbool "Kernel debugging"\n');
    await writeFile(path.join(src, '.git', 'Kconfig'), 'config NOT_IN_TREE\n\tbool\n');
    const syms = await readKconfigSymbols(src);
    expect(syms.has('ZSWAP')).toBe(true);
    expect(syms.has('DEBUG_KERNEL')).toBe(true);
    expect(syms.has('NOT_IN_TREE')).toBe(false);
  });
});

describe('dropped options', () => {
  const requests = parseFragment('CONFIG_ZSWAP=y\nCONFIG_FRONTSWAP=y\nCONFIG_ZSMALLOC=y\n', 'kernel-configs/zswap.config');
  const final = parseDotConfig('# CONFIG_ZSWAP is not set\nCONFIG_MMU=y\n');
  const dropped = annotateDropped(findDroppedOptions(requests, final), parseKconfig(MM_KCONFIG));

  it('tells an option this kernel does not know from one its dependencies dropped', () => {
    expect(dropped.map(describeDropped)).toEqual([
      'CONFIG_ZSWAP=y (zswap.config:1): known, but olddefconfig made it not set (depends on SWAP; or a select forces it)',
      'CONFIG_FRONTSWAP=y (zswap.config:2): CONFIG_FRONTSWAP is not known to this kernel (no Kconfig symbol)',
      'CONFIG_ZSMALLOC=y (zswap.config:3): known but dropped by dependencies (depends on (prompt shown if (ZSWAP || ZRAM)) && MMU)',
    ]);
  });

  it('keeps the old wording when the tree was not consulted', () => {
    expect(describeDropped(findDroppedOptions(requests, final)[1]!)).toMatch(/the kernel has no such option, or its dependencies are not met/);
  });
});
