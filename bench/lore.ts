/**
 * Lore-stage benchmark: `npx vite-node bench/lore.ts` from the repo root (or, compiled,
 * `node -e "import('./dist/lore/bench.js').then(m => m.runLoreBench())"`). The work lives in
 * src/lore/bench.ts so `npm run bench` can call it from dist/.
 */
import { runLoreBench } from '../src/lore/bench.js';

await runLoreBench();
