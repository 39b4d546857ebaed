import ky, { isHTTPError, isTimeoutError, type Options as KyOptions } from 'ky';
import { InfraError, InputError, KharnessError, errorMessage } from '../common/errors.js';
import { KHARNESS_VERSION } from '../common/paths.js';

/** Knobs tests turn; everything else about the client is fixed. */
export interface HttpOptions {
  /** The first retry's wait when the server names none, doubled on each retry (default 1 s or $KHARNESS_LORE_RETRY_BASE_MS). */
  retryBaseMs?: number;
  /** The largest body accepted, in bytes as sent (lore sends the thread gzipped). */
  maxBodyBytes?: number;
}

/** Requests per URL at most: the first and three retries. */
export const MAX_ATTEMPTS = 4;
/** The longest wait between attempts; a Retry-After asking for more is not waited for at all. */
export const MAX_RETRY_WAIT_MS = 60_000;
export const MAX_BODY_BYTES = 64 * 1024 * 1024;
const DEFAULT_RETRY_BASE_MS = 1_000;
const TIMEOUT_MS = 120_000;
/** Answers worth asking again: rate limiting (429, or 403 from some fronts) and a server in trouble. */
const RETRY_STATUSES = [403, 429, 500, 502, 503, 504];
const RATE_LIMIT_STATUSES = new Set([403, 429]);
/** A connection the peer dropped; undici reports a peer's close as UND_ERR_SOCKET ("other side closed"). */
const DROPPED_CONNECTION_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'UND_ERR_SOCKET']);

export const USER_AGENT = `kharness/${KHARNESS_VERSION} (Linux kernel patch series tester; fetches lore thread mboxes)`;

/** The body stopped before its end: a dropped connection, worth another attempt. */
class BodyCutOffError extends Error {}

/** Node's fetch hides the socket error in `cause`; this digs out its code (ECONNREFUSED, ...). */
function networkCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let depth = 0; depth < 4 && e && typeof e === 'object'; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** A Retry-After header in milliseconds: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  const value = header?.trim();
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

const seconds = (ms: number): string => `${Math.ceil(ms / 1000)} s`;

function retryBaseFromEnv(): number {
  const raw = process.env.KHARNESS_LORE_RETRY_BASE_MS;
  if (raw === undefined || raw === '') return DEFAULT_RETRY_BASE_MS;
  const ms = Number(raw);
  if (!Number.isFinite(ms) || ms < 0) throw new InputError(`KHARNESS_LORE_RETRY_BASE_MS must be a number of milliseconds, got "${raw}"`);
  return ms;
}

function tooLarge(url: string, maxBytes: number, seen: string): InfraError {
  return new InfraError(`${url} sent more than ${maxBytes} bytes (${seen}): refusing a body that large`, 'a lore thread mbox is rarely more than a few MiB; is --lore pointing at a lore server?');
}

/** Reads a body as a stream so that the cap holds without holding an oversized body. */
async function readCapped(response: Response, url: string, maxBytes: number): Promise<Buffer> {
  const declared = Number(response.headers.get('content-length'));
  if (declared > maxBytes) {
    void response.body?.cancel().catch(() => undefined);
    throw tooLarge(url, maxBytes, `Content-Length ${declared}`);
  }
  const reader = response.body?.getReader();
  if (!reader) return Buffer.alloc(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) {
        await reader.cancel().catch(() => undefined);
        throw tooLarge(url, maxBytes, `${total} bytes read so far`);
      }
      chunks.push(value);
    }
  } catch (err) {
    if (err instanceof KharnessError) throw err;
    throw new BodyCutOffError(`the connection dropped after ${total} bytes of the body (${networkCode(err) ?? errorMessage(err)})`, { cause: err });
  }
  return Buffer.concat(chunks, total);
}

/**
 * ky's fetch: the whole body is read inside the attempt, so a body cut off mid-stream is retried
 * like any dropped connection. Error answers are handed back unread; ky turns them into HTTPError.
 */
function fetchWholeBody(url: string, maxBytes: number, attempts: { count: number }): NonNullable<KyOptions['fetch']> {
  return async (input, init) => {
    attempts.count++;
    const response = await fetch(input, init);
    if (!response.ok) {
      void response.body?.cancel().catch(() => undefined);
      return response;
    }
    const body = await readCapped(response, url, maxBytes);
    return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
  };
}

/** Whether ky may try again: undefined leaves it to ky's status list and Retry-After handling. */
function shouldRetry(error: Error): boolean | undefined {
  if (error instanceof KharnessError) return false; // an oversized body: asking again gets the same
  if (isHTTPError(error)) return (retryAfterMs(error.response.headers.get('retry-after')) ?? 0) > MAX_RETRY_WAIT_MS ? false : undefined;
  if (isTimeoutError(error)) return false; // another two minutes is not manners
  return error instanceof BodyCutOffError || DROPPED_CONNECTION_CODES.has(networkCode(error) ?? '');
}

function retryPolicy(baseMs: number): NonNullable<KyOptions['retry']> {
  return {
    limit: MAX_ATTEMPTS - 1,
    methods: ['get'],
    statusCodes: RETRY_STATUSES,
    afterStatusCodes: RETRY_STATUSES,
    maxRetryAfter: MAX_RETRY_WAIT_MS,
    backoffLimit: MAX_RETRY_WAIT_MS,
    delay: (retry) => baseMs * 2 ** (retry - 1),
    shouldRetry: ({ error }) => shouldRetry(error),
  };
}

/** The error for an answer that stayed bad: not found is the user's (exit 2), rate limiting and 5xx the environment's (exit 3). */
function statusFailure(response: Response, url: string, what: string, attempts: number): KharnessError {
  const status = `${response.status} ${response.statusText}`.trim();
  if (response.status === 404 || response.status === 410) {
    return new InputError(`${what}: ${response.url || url} answered ${response.status} (not found)`, 'check the message-id; lore may also not have archived it yet');
  }
  const asked = retryAfterMs(response.headers.get('retry-after'));
  const tries = attempts > 1 ? ` ${attempts} times` : '';
  const rateLimited = RATE_LIMIT_STATUSES.has(response.status);
  const trouble = rateLimited ? 'the server is rate limiting us' : 'the server is having trouble';
  if (asked !== undefined && asked > MAX_RETRY_WAIT_MS && RETRY_STATUSES.includes(response.status)) {
    return new InfraError(`${url} answered ${status}: ${trouble} and asks to wait ${seconds(asked)} (Retry-After), more than the ${seconds(MAX_RETRY_WAIT_MS)} kharness waits`, 'try again later');
  }
  if (rateLimited) {
    const after = asked === undefined ? '' : ` (Retry-After: ${seconds(asked)})`;
    return new InfraError(`${url} answered ${status}${tries}: ${trouble}${after}`, 'wait a few minutes and try again');
  }
  if (response.status >= 500) return new InfraError(`${url} answered ${status}${tries}: ${trouble}`);
  return new InputError(`${what}: ${url} answered ${status}`);
}

function failure(err: unknown, url: string, what: string, attempts: number): KharnessError {
  if (err instanceof KharnessError) return err;
  if (isHTTPError(err)) return statusFailure(err.response, url, what, attempts);
  const name = err instanceof Error ? err.name : '';
  if (isTimeoutError(err) || name === 'AbortError') return new InfraError(`fetching ${url} timed out after ${TIMEOUT_MS / 1000}s`);
  const tries = attempts > 1 ? ` (${attempts} attempts)` : '';
  if (err instanceof BodyCutOffError) return new InfraError(`reading the answer from ${url} failed${tries}: ${err.message}`);
  const code = networkCode(err);
  if (code !== undefined && DROPPED_CONNECTION_CODES.has(code)) return new InfraError(`fetching ${url} failed${tries}: the server dropped the connection (${code})`);
  if (code === 'ECONNREFUSED') return new InfraError(`connection refused by ${new URL(url).host} while fetching ${url}`, 'is the lore server (or --lore / KHARNESS_LORE) right and running?');
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return new InfraError(`cannot resolve ${new URL(url).hostname} while fetching ${url}`, 'check the network, or use --lore');
  return new InfraError(`fetching ${url} failed${tries}: ${code ?? errorMessage(err)}`);
}

/**
 * GETs a URL (redirects followed) and returns the body bytes, with manners: a descriptive
 * User-Agent, up to MAX_ATTEMPTS requests with exponential backoff on rate limiting, 5xx and
 * dropped connections (a Retry-After is honoured, up to MAX_RETRY_WAIT_MS), and a cap on the
 * body. The answer that stays decides the error class: 404 is the user's input (exit 2); a
 * refused connection, a timeout, rate limiting or a 5xx is the environment's (exit 3).
 */
export async function httpGet(url: string, what: string, opts: HttpOptions = {}): Promise<Buffer> {
  const attempts = { count: 0 };
  try {
    const response = await ky.get(url, {
      redirect: 'follow',
      headers: { 'User-Agent': USER_AGENT, Accept: 'application/gzip, application/mbox, text/plain;q=0.5, */*;q=0.1' },
      timeout: TIMEOUT_MS,
      retry: retryPolicy(opts.retryBaseMs ?? retryBaseFromEnv()),
      fetch: fetchWholeBody(url, opts.maxBodyBytes ?? MAX_BODY_BYTES, attempts),
    });
    return Buffer.from(await response.arrayBuffer());
  } catch (err) {
    throw failure(err, url, what, attempts.count);
  }
}
