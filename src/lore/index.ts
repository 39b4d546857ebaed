/** The lore stage: fetch a thread, assemble the series in it, write it for `git am`. */
export { SeriesSchema, type Series, type SeriesPatch, type SeriesTrailer, type SeriesCover } from './schema.js';
export { fetchSeries, type FetchOptions, type FetchResult } from './fetch.js';
export { assembleSeries, type AssembleOptions, type AssembledSeries } from './assemble.js';
export { writeSeries, readSeries, SERIES_JSON, SERIES_MBOX } from './store.js';
export { startLoreServer, type LoreServer } from './server.js';
export { parseSubject, type ParsedSubject } from './subject.js';
export { resolveInput, DEFAULT_LORE, type FetchInput } from './input.js';
export { NO_CACHE_HELP } from './cache.js';
