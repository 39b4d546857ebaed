export type { ApiEra, ApiSelection, EraId, FunctionSpec, Prototype, PrototypeCheck, ReturnDecoding } from './types.js';
export { ERAS, NEWER, V6_1, V6_12, eraById, formatPrototype, returnDecoding } from './eras.js';
export { CHECK_FILE, checkLayout, checkPrototypes, mismatchDetail, parseCheckDiagnostics } from './prototypes.js';
export { checksOf, probedEra, selectEra } from './select.js';

import { checkPrototypes } from './prototypes.js';
import { selectEra } from './select.js';
import type { ApiSelection } from './types.js';

/** Checks a build's zswap.i against every known era and picks the one that holds. */
export async function detectApi(zswapPreprocessed: string, gcc = 'gcc'): Promise<ApiSelection> {
  return selectEra(await checkPrototypes(zswapPreprocessed, undefined, gcc));
}
