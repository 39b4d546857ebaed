#!/usr/bin/env node
// Entry point: runs the compiled CLI. `npm run setup` (scripts/setup.sh) compiles src/ into dist/.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const cli = path.join(here, '..', 'dist', 'cli.js');
if (!existsSync(cli)) {
  process.stderr.write('kharness: not built yet; run `bash scripts/setup.sh` first\n');
  process.exit(3);
}
const { main } = await import(cli);
await main(process.argv);
