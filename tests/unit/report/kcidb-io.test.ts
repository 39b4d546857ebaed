import { existsSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../../src/common/paths.js';
import { buildKcidb, renderKcidb, type RunReport } from '../../../src/report/index.js';
import { allPassing, clone, fixture, twoConfigs, withAttestation, withReuse } from './helpers.js';

/**
 * kcidb.json checked by KernelCI's own library, kcidb-io from PyPI (requirements.txt, installed
 * into .venv by scripts/setup.sh), not by our transcription of its schema: each document is
 * validated with `kcidb_io.schema.V5_0.validate_exactly` (the version the file declares, with
 * the library's JSON-schema format checker) and `kcidb_io.schema.LATEST.validate` (what a KCIDB
 * submitter accepts today). Broken documents are fed through the same path and must be refused,
 * so a validator that accepts everything cannot pass this test.
 */
const PYTHON = path.join(projectRoot, '.venv', 'bin', 'python');

const VALIDATE = `
import json, sys
import jsonschema
import kcidb_io
docs = json.load(sys.stdin)
out = {}
for name, doc in docs.items():
    try:
        kcidb_io.schema.V5_0.validate_exactly(doc)
        kcidb_io.schema.LATEST.validate(doc)
        out[name] = "ok"
    except jsonschema.exceptions.ValidationError as e:
        out[name] = "invalid: " + e.message
json.dump(out, sys.stdout)
sys.exit(0 if all(v == "ok" for v in out.values()) else 1)
`;

async function validate(docs: Record<string, unknown>): Promise<{ exitCode: number; results: Record<string, string>; stderr: string }> {
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: run \`bash scripts/setup.sh\` (it installs requirements.txt, kcidb-io included)`);
  const r = await execa(PYTHON, ['-c', VALIDATE], { input: JSON.stringify(docs), reject: false });
  let results: Record<string, string> = {};
  try {
    results = JSON.parse(String(r.stdout)) as Record<string, string>;
  } catch {
    /* reported through exitCode and stderr below */
  }
  return { exitCode: r.exitCode ?? -1, results, stderr: String(r.stderr) };
}

/** 2/4 panics while booting: no guest tests, only the boot test object. */
function bootFailure(): RunReport {
  const r = clone(fixture('regression'));
  const p = r.patches[2]!;
  p.stages.boot = { verdict: 'fail', summary: 'kernel panic while booting', evidence: ['Kernel panic - not syncing: VFS: Unable to mount root fs'], logs: { console: 'logs/p2/console.log' } };
  p.stages.test = { verdict: 'skipped', summary: 'the boot failed', evidence: [], logs: {} };
  p.stages.model = { verdict: 'skipped', summary: 'the boot failed', evidence: [], logs: {} };
  p.tests = [];
  return r;
}

/** Names, ids and logs that our own code has to squeeze into the schema's patterns and limits. */
function awkward(): RunReport {
  const r = clone(fixture('regression'));
  r.patches[2]!.tests[1]!.name = 'write back/2 (öko) ';
  r.patches[2]!.tests[0]!.findings[0]!.excerpt = 'x'.repeat(40_000);
  r.patches[2]!.messageId = 'not an address';
  return r;
}

/** The same tests in two variants: test@variant names become a node under the variant. */
function withVariants(): RunReport {
  const r = clone(fixture('regression'));
  for (const p of r.patches) p.tests = [...p.tests, ...p.tests.map((t) => ({ ...clone(t), name: `${t.name}@nomemcg` }))];
  return r;
}

describe('kcidb.json against kcidb-io (KernelCI\'s own validator)', () => {
  it('accepts every representative report, as rendered and with log URLs', async () => {
    const docs: Record<string, unknown> = {
      regression: JSON.parse(renderKcidb(fixture('regression'))),
      interrupted: JSON.parse(renderKcidb(fixture('interrupted'))),
      passing: JSON.parse(renderKcidb(allPassing())),
      reused: JSON.parse(renderKcidb(withReuse())),
      'boot-failure': JSON.parse(renderKcidb(bootFailure())),
      awkward: buildKcidb(awkward()),
      variants: buildKcidb(withVariants()),
      'two-configs': buildKcidb(twoConfigs()),
      attestation: buildKcidb(withAttestation()),
      'with-log-urls': buildKcidb(fixture('regression'), { baseUrl: 'https://ci.example.org/reports/v2-zswap/' }),
    };
    // The documents are not trivially empty: the checks below would then prove nothing.
    const regression = docs.regression as { checkouts: unknown[]; builds: unknown[]; tests: { status: string }[] };
    expect(regression.checkouts).toHaveLength(5);
    expect(regression.builds).toHaveLength(5);
    expect(regression.tests.filter((t) => t.status === 'FAIL').length).toBeGreaterThanOrEqual(3);
    const paths = (docs.variants as { tests: { path?: string }[] }).tests.map((t) => t.path ?? '');
    expect(paths.filter((p) => p.startsWith('zswap.nomemcg.')).length).toBeGreaterThan(0);
    expect(new Set((docs.variants as { tests: { id: string }[] }).tests.map((t) => t.id)).size).toBe(paths.length);
    expect((docs['two-configs'] as { builds: { config_name: string }[] }).builds.map((b) => b.config_name)).toEqual([...Array(5).fill('zswap'), ...Array(5).fill('zswap-debug')]);
    const r = await validate(docs);
    expect(r.results, r.stderr).toEqual(Object.fromEntries(Object.keys(docs).map((k) => [k, 'ok'])));
    expect(r.exitCode, r.stderr).toBe(0);
  });

  it('refuses broken documents (negative controls: the validator can fail)', async () => {
    const good = buildKcidb(fixture('regression'));
    const broken = (mutate: (k: any) => void): unknown => {
      const k = structuredClone(good) as any;
      mutate(k);
      return k;
    };
    const docs: Record<string, unknown> = {
      'unknown status': broken((k) => (k.tests[0].status = 'BROKEN')),
      'id without origin': broken((k) => (k.checkouts[0].id = 'no-origin-prefix')),
      'test path with a space': broken((k) => (k.tests[0].path = 'zswap.swap cycle')),
      'unknown field': broken((k) => (k.builds[0].colour = 'red')),
      'commit hash not hex': broken((k) => (k.checkouts[0].git_commit_hash = 'HEAD')),
      'start time not a date': broken((k) => (k.checkouts[0].start_time = 'yesterday')),
      'excerpt over 16 KiB': broken((k) => (k.tests[0].log_excerpt = 'x'.repeat(16385))),
      'build without checkout': broken((k) => delete k.builds[0].checkout_id),
    };
    const r = await validate(docs);
    expect(r.exitCode).toBe(1);
    expect(Object.keys(r.results).sort(), r.stderr).toEqual(Object.keys(docs).sort());
    for (const [name, result] of Object.entries(r.results)) expect(result, name).toMatch(/^invalid: /);
    expect(r.results['unknown status']).toContain("'BROKEN'");
    expect(r.results['build without checkout']).toContain("'checkout_id' is a required property");
  });
});
