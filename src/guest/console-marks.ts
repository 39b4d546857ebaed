import { z } from 'zod';

/**
 * The suite's marks on the console (suite.sh `mark`): `kharness-guest: {"ev":"test",...}`. They
 * say which test was running when the kernel printed something, so a splat is blamed on the right
 * test. Typed and validated: the console is the kernel's and the guest's, so it is untrusted, and
 * a line that does not validate is not a mark.
 */
export const TestMarkSchema = z
  .object({ ev: z.literal('test'), test: z.string().regex(/^[a-z0-9-]{1,40}$/), state: z.enum(['start', 'pass', 'fail', 'skip', 'error']) })
  .strict();
export type TestMark = z.infer<typeof TestMarkSchema>;

const PREFIX = 'kharness-guest: {';

export function parseMark(line: string): TestMark | undefined {
  const i = line.indexOf(PREFIX);
  if (i < 0) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(line.slice(i + PREFIX.length - 1).trim());
  } catch {
    return undefined;
  }
  const r = TestMarkSchema.safeParse(value);
  return r.success ? r.data : undefined;
}

/** Console line numbers (1-based) where each test started, in order. */
export function testStarts(consoleText: string): { line: number; test: string }[] {
  const out: { line: number; test: string }[] = [];
  consoleText.split('\n').forEach((l, i) => {
    const m = parseMark(l);
    if (m?.state === 'start') out.push({ line: i + 1, test: m.test });
  });
  return out;
}
