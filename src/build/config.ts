import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { copyFile, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { InfraError, InputError } from '../common/errors.js';
import { kernelConfigsDir } from '../common/paths.js';
import { inTreeSandbox } from './make.js';

/**
 * A named kernel config: `kernel-configs/NAME.config`, whose `# kharness-base: a b` line lists
 * the fragments it is merged on top of (in order). Every fragment is merged onto
 * `make tinyconfig` with the kernel's own merge_config.sh, then `olddefconfig`.
 */
export interface ConfigPlan {
  name: string;
  fragments: string[];
  /** hash of the fragments' contents: part of the build directory's key */
  hash: string;
}

/** One requested option: `CONFIG_X=y`, `CONFIG_X="s"`, or `# CONFIG_X is not set` (value 'n'). */
export interface ConfigRequest {
  option: string;
  value: string;
  fragment: string;
  line: number;
}

export function listConfigs(dir = kernelConfigsDir): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.config') && f !== 'base.config' && !f.includes('@'))
    .map((f) => f.replace(/\.config$/, ''))
    .sort();
}

/**
 * `--config zswap,zswap-debug`: the configs a run builds every step with, in order, each known.
 * Refuses an empty list and repeats (a repeat would build and boot the same kernel twice).
 */
export function resolveConfigList(list: string, dir = kernelConfigsDir): string[] {
  const names = list.split(',').map((n) => n.trim());
  if (!names.length || names.some((n) => !n)) throw new InputError(`--config ${JSON.stringify(list)} names an empty config`, `known configs: ${listConfigs(dir).join(', ')}`);
  const repeated = names.find((n, i) => names.indexOf(n) !== i);
  if (repeated) throw new InputError(`--config names ${repeated} twice`);
  for (const n of names) resolveConfig(n, dir);
  return names;
}

/** Pure: `6.1` from a kernel tree's top Makefile (VERSION and PATCHLEVEL): what picks the per-version fragments. */
export function parseKernelVersion(makefile: string): string | undefined {
  const v = /^VERSION\s*=\s*(\d+)\s*$/m.exec(makefile)?.[1];
  const p = /^PATCHLEVEL\s*=\s*(\d+)\s*$/m.exec(makefile)?.[1];
  return v && p ? `${v}.${p}` : undefined;
}

/**
 * The config NAME, resolved for a kernel of VERSION (`6.1`): after each fragment F, the fragment
 * `F@VERSION.config` is merged when it exists, so one config name means "zswap, the way this
 * kernel spells it" (other option names, frontswap, no shrinker option). Without a version, the
 * version-independent plan (the upfront name check).
 */
export function resolveConfig(name: string, dir = kernelConfigsDir, version?: string): ConfigPlan {
  if (name.includes(',')) throw new InputError(`--config ${name}: this command builds one config at a time`, 'only `kharness run` takes several (--config zswap,zswap-debug)');
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) throw new InputError(`config name ${JSON.stringify(name)} is not a config's name`, `known configs: ${listConfigs(dir).join(', ')}`);
  const seen = new Set<string>();
  const fragments: string[] = [];
  const visit = (n: string, chain: string[]): void => {
    const file = path.join(dir, `${n}.config`);
    if (!existsSync(file)) {
      const known = listConfigs(dir).join(', ');
      throw new InputError(`unknown config "${n}"${chain.length ? ` (named by ${chain.join(' -> ')})` : ''}`, `known configs: ${known}`);
    }
    if (chain.includes(n)) throw new InputError(`config fragments include each other: ${[...chain, n].join(' -> ')}`);
    const text = readFileSync(file, 'utf8');
    const bases = /^# kharness-base:(.*)$/m.exec(text)?.[1]?.trim().split(/\s+/).filter(Boolean) ?? (n === 'base' ? [] : ['base']);
    for (const b of bases) visit(b, [...chain, n]);
    if (!seen.has(file)) {
      seen.add(file);
      fragments.push(file);
      const forVersion = version ? path.join(dir, `${n}@${version}.config`) : undefined;
      if (forVersion && existsSync(forVersion)) fragments.push(forVersion);
    }
  };
  visit(name, []);
  const hash = createHash('sha256');
  for (const f of fragments) hash.update(readFileSync(f));
  return { name, fragments, hash: hash.digest('hex').slice(0, 12) };
}

/** Reads the options a fragment asks for. Pure, for tests. */
export function parseFragment(text: string, fragment = 'fragment'): ConfigRequest[] {
  const out: ConfigRequest[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    let m = /^(CONFIG_[A-Za-z0-9_]+)=(.*)$/.exec(line);
    if (m) {
      out.push({ option: m[1]!, value: m[2]!, fragment, line: i + 1 });
      return;
    }
    m = /^# (CONFIG_[A-Za-z0-9_]+) is not set$/.exec(line);
    if (m) out.push({ option: m[1]!, value: 'n', fragment, line: i + 1 });
  });
  return out;
}

/** The value of every option in a .config ('n' for `is not set`). */
export function parseDotConfig(text: string): Map<string, string> {
  const values = new Map<string, string>();
  for (const r of parseFragment(text)) values.set(r.option, r.value);
  return values;
}

export interface DroppedOption {
  request: ConfigRequest;
  /** what the final .config holds instead (undefined: the option does not exist there at all) */
  got?: string;
  /** whether the tree defines the Kconfig symbol at all (undefined: not looked up) */
  known?: boolean;
  /** the symbol's own `depends on` and enclosing `if` conditions, and prompt visibility */
  dependsOn?: string[];
}

/** What the tree's Kconfig files say about one symbol. */
export interface KconfigSymbol {
  dependsOn: string[];
}

/**
 * Pure: the symbols one Kconfig file defines (`config X` / `menuconfig X`), each with the
 * conditions that can drop it: `depends on`, prompt `if`s, and the `if` blocks around it.
 */
export function parseKconfig(text: string, into = new Map<string, KconfigSymbol>()): Map<string, KconfigSymbol> {
  const ifs: string[] = [];
  let current: KconfigSymbol | undefined;
  // Help text ends at the first non-blank line indented less than its own first line; until
  // then its words ("depends on a reliable system") are prose, not a dependency.
  let help: { indent?: number } | undefined;
  const indentOf = (raw: string): number => raw.replace(/\t/g, '        ').search(/\S/);
  for (const raw of text.split('\n')) {
    if (help) {
      if (!raw.trim()) continue;
      help.indent ??= indentOf(raw);
      if (indentOf(raw) >= help.indent) continue;
      help = undefined;
    }
    const line = raw.replace(/#.*$/, '').trim();
    if (line === 'help' || line === '---help---') {
      help = {};
      continue;
    }
    let m: RegExpExecArray | null;
    if ((m = /^(?:menu)?config\s+([A-Za-z0-9_]+)$/.exec(line))) {
      const prev = into.get(m[1]!);
      current = prev ?? { dependsOn: [] };
      for (const cond of ifs) if (!current.dependsOn.includes(cond)) current.dependsOn.push(cond);
      into.set(m[1]!, current);
    } else if ((m = /^if\s+(.+)$/.exec(line))) {
      ifs.push(m[1]!.trim());
      current = undefined;
    } else if (line === 'endif') {
      ifs.pop();
      current = undefined;
    } else if (/^(?:choice|endchoice|menu|endmenu|source|comment|mainmenu)\b/.test(line)) {
      current = undefined;
    } else if (current && (m = /^depends\s+on\s+(.+)$/.exec(line))) {
      current.dependsOn.push(m[1]!.trim());
    } else if (current && (m = /^(?:bool|tristate|string|int|hex|prompt)\s+(?:"[^"]*")?\s*if\s+(.+)$/.exec(line))) {
      current.dependsOn.push(`(prompt shown if ${m[1]!.trim()})`);
    }
  }
  return into;
}

/** Every Kconfig symbol a kernel source tree defines (all Kconfig* files; no .git, no build output). */
export async function readKconfigSymbols(src: string): Promise<Map<string, KconfigSymbol>> {
  const symbols = new Map<string, KconfigSymbol>();
  const walk = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      if (e.isDirectory() && !e.name.startsWith('.')) await walk(path.join(dir, e.name));
      else if (e.isFile() && e.name.startsWith('Kconfig')) parseKconfig(await readFile(path.join(dir, e.name), 'utf8'), symbols);
    }
  };
  await walk(src);
  return symbols;
}

/** Pure: says of each dropped option whether this kernel knows it, and what it depends on. */
export function annotateDropped(dropped: DroppedOption[], symbols: Map<string, KconfigSymbol>): DroppedOption[] {
  return dropped.map((d) => {
    const sym = symbols.get(d.request.option.replace(/^CONFIG_/, ''));
    return { ...d, known: sym !== undefined, dependsOn: sym?.dependsOn };
  });
}

/**
 * Every option a fragment asked for must hold in the final .config. The last fragment to name an
 * option wins, as in merge_config.sh. An option asked to be 'n' may also be absent.
 */
export function findDroppedOptions(requests: ConfigRequest[], final: Map<string, string>): DroppedOption[] {
  const last = new Map<string, ConfigRequest>();
  for (const r of requests) last.set(r.option, r);
  const dropped: DroppedOption[] = [];
  for (const r of last.values()) {
    const got = final.get(r.option);
    if (r.value === 'n' ? got === undefined || got === 'n' : got === r.value) continue;
    dropped.push({ request: r, got });
  }
  return dropped;
}

export function describeDropped(d: DroppedOption): string {
  const where = `${path.basename(d.request.fragment)}:${d.request.line}`;
  const want = d.request.value === 'n' ? 'not set' : d.request.value;
  if (d.known === false) return `${d.request.option}=${want} (${where}): ${d.request.option} is not known to this kernel (no Kconfig symbol)`;
  if (d.known === true) {
    const deps = d.dependsOn?.length ? `depends on ${d.dependsOn.join(' && ')}` : 'no dependency of its own: a select, a choice or its menu decides';
    if (d.got === undefined) return `${d.request.option}=${want} (${where}): known but dropped by dependencies (${deps})`;
    return `${d.request.option}=${want} (${where}): known, but olddefconfig made it ${d.got === 'n' ? 'not set' : d.got} (${deps}; or a select forces it)`;
  }
  if (d.got === undefined) return `${d.request.option}=${want} (${where}): the kernel has no such option, or its dependencies are not met`;
  const got = d.got === 'n' ? 'not set' : d.got;
  return `${d.request.option}=${want} (${where}): olddefconfig made it ${got} (unmet dependency or a select forces it)`;
}

/**
 * Writes BUILD/.config for the plan from the source tree SRC. Skips the work when the build dir
 * already holds the config made from the same fragments (a stamp file records their hash):
 * re-running olddefconfig would touch include/config and force a full rebuild.
 */
export async function makeConfig(src: string, buildDir: string, plan: ConfigPlan, log: (line: string) => void): Promise<{ reused: boolean }> {
  await mkdir(buildDir, { recursive: true });
  const stamp = path.join(buildDir, '.kharness-config');
  const dotConfig = path.join(buildDir, '.config');
  if (existsSync(dotConfig) && existsSync(stamp) && (await readFile(stamp, 'utf8')).trim() === plan.hash) {
    return { reused: true };
  }
  const run = async (file: string, args: string[], env: Record<string, string> = {}): Promise<void> => {
    const cmd = inTreeSandbox(src, [buildDir], env, file, args, [...new Set(plan.fragments.map((f) => path.dirname(path.resolve(f))))]);
    const r = await execa(cmd.file, cmd.args, { ...cmd.options, reject: false, all: true });
    log(String(r.all ?? ''));
    if (r.exitCode !== 0) throw new InfraError(`${[file, ...args].join(' ')} failed (exit ${r.exitCode}):\n${String(r.all ?? '').split('\n').slice(-15).join('\n')}`);
  };
  await run('make', ['-s', `O=${buildDir}`, 'tinyconfig']);
  await run('scripts/kconfig/merge_config.sh', ['-m', '-O', buildDir, dotConfig, ...plan.fragments], { KCONFIG_CONFIG: dotConfig });
  await run('make', ['-s', `O=${buildDir}`, 'olddefconfig']);
  const requests = plan.fragments.flatMap((f) => parseFragment(readFileSync(f, 'utf8'), f));
  const found = findDroppedOptions(requests, parseDotConfig(await readFile(dotConfig, 'utf8')));
  // Only when something dropped: a typo or an option of another kernel version reads differently
  // from one whose dependencies are off.
  const dropped = found.length > 0 ? annotateDropped(found, await readKconfigSymbols(src)) : found;
  if (dropped.length > 0) {
    // Leave no stamp: the next attempt must redo the config, not trust this one.
    throw new InputError(
      `config "${plan.name}": ${dropped.length} option(s) the fragments ask for did not survive olddefconfig:\n` +
        dropped.map((d) => `  ${describeDropped(d)}`).join('\n'),
      'fix the fragment in kernel-configs/ (a typo, or a dependency that must be enabled too)',
    );
  }
  await copyFile(dotConfig, path.join(buildDir, '.config.kharness'));
  await writeFile(stamp, `${plan.hash}\n`);
  return { reused: false };
}
