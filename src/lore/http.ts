import { InfraError, InputError, errorMessage } from '../common/errors.js';

const USER_AGENT = 'kharness/0.1.0 (+lore fetch)';
const TIMEOUT_MS = 120_000;

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

/**
 * GETs a URL (redirects followed) and returns the body bytes. The server's answer decides the
 * error class: a 404 means the message-id is unknown (the user's input, exit 2); a refused
 * connection, a timeout or a 5xx is the environment's (exit 3).
 */
export async function httpGet(url: string, what: string): Promise<Buffer> {
  let response: Response;
  try {
    response = await fetch(url, {
      redirect: 'follow',
      headers: { 'User-Agent': USER_AGENT, Accept: 'application/gzip, application/mbox, text/plain;q=0.5, */*;q=0.1' },
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (err) {
    const code = networkCode(err);
    const name = err instanceof Error ? err.name : '';
    if (name === 'TimeoutError' || name === 'AbortError') throw new InfraError(`fetching ${url} timed out after ${TIMEOUT_MS / 1000}s`);
    if (code === 'ECONNREFUSED') throw new InfraError(`connection refused by ${new URL(url).host} while fetching ${url}`, 'is the lore server (or --lore / KHARNESS_LORE) right and running?');
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') throw new InfraError(`cannot resolve ${new URL(url).hostname} while fetching ${url}`, 'check the network, or use --lore');
    throw new InfraError(`fetching ${url} failed: ${code ?? errorMessage(err)}`);
  }
  if (response.status === 404 || response.status === 410) {
    throw new InputError(`${what}: ${response.url || url} answered ${response.status} (not found)`, 'check the message-id; lore may also not have archived it yet');
  }
  if (response.status >= 500) throw new InfraError(`${url} answered ${response.status} ${response.statusText}: the server is having trouble`);
  if (!response.ok) throw new InputError(`${what}: ${url} answered ${response.status} ${response.statusText}`);
  try {
    return Buffer.from(await response.arrayBuffer());
  } catch (err) {
    throw new InfraError(`reading the answer from ${url} failed: ${networkCode(err) ?? errorMessage(err)}`);
  }
}
