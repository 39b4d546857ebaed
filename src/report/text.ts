/**
 * Text helpers shared by the renderers. Everything taken from mail or logs is untrusted: it goes
 * through `cleanText` (no terminal escapes, no control characters) and then through the escaping of
 * the format it lands in.
 */

const ANSI = /\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])/g;
// C0 controls except tab and newline, DEL, C1 controls; lone surrogates; U+FFFE/U+FFFF.
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]|[\ufffe\uffff]/g;

/** Log or mail text made safe to show: terminal escapes and control characters removed, CRLF → LF. */
export function cleanText(s: string): string {
  return s.replace(/\r\n?/g, '\n').replace(ANSI, '').replace(CONTROL, '');
}

/** One line of untrusted text: like cleanText, and newlines/tabs become spaces. */
export function cleanLine(s: string): string {
  return cleanText(s).replace(/[\n\t]+/g, ' ');
}

/** HTML text and attribute values (double- or single-quoted). */
export function escapeHtml(s: string): string {
  return cleanText(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

/** XML 1.0 text and attribute values; characters XML 1.0 forbids are dropped. */
export function escapeXml(s: string, attribute = false): string {
  const escaped = cleanText(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] ?? c);
  // In attributes, keep newlines and tabs as character references so parsers do not normalize them away.
  return attribute ? escaped.replace(/\n/g, '&#10;').replace(/\t/g, '&#9;') : escaped;
}

/** Inline Markdown: no HTML, no emphasis/link/table syntax from untrusted text. */
export function escapeMd(s: string): string {
  return cleanLine(s)
    .replace(/[\\`*_[\]#|~]/g, (c) => `\\${c}`)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');
}

/** Inline code span that can hold any text (backticks included). */
export function mdCode(s: string): string {
  const text = cleanLine(s);
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((r) => r.length));
  const fence = '`'.repeat(longest + 1);
  const pad = text.startsWith('`') || text.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${text}${pad}${fence}`;
}

/** A fenced code block that cannot be closed early by its content. */
export function mdBlock(s: string, lang = ''): string {
  const text = cleanText(s).replace(/\n+$/, '');
  const longest = Math.max(2, ...(text.match(/^\s*`{3,}/gm) ?? []).map((r) => r.trim().length));
  const fence = '`'.repeat(longest + 1);
  return `${fence}${lang}\n${text}\n${fence}`;
}

/**
 * Wraps prose at `width` columns. Words longer than a line (URLs) keep a line of their own.
 * `indent` starts the first line, `hanging` the following ones.
 */
export function wrap(text: string, width = 72, indent = '', hanging = indent): string {
  const words = cleanLine(text).split(' ').filter((w) => w !== '');
  const lines: string[] = [];
  let line = indent;
  let empty = true;
  for (const word of words) {
    if (!empty && line.length + 1 + word.length > width) {
      lines.push(line);
      line = hanging + word;
    } else {
      line += (empty ? '' : ' ') + word;
    }
    empty = false;
  }
  lines.push(empty ? indent.trimEnd() : line);
  return lines.join('\n');
}

/** `42 ms`, `3.4 s`, `2 min 05 s`, `1 h 02 min`. */
export function formatDuration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  const total = Math.round(s);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const sec = total % 60;
  if (h > 0) return `${h} h ${String(m).padStart(2, '0')} min`;
  return `${m} min ${String(sec).padStart(2, '0')} s`;
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** The first `n` characters of a commit id. */
export function shortCommit(commit: string | undefined, n = 12): string {
  return commit ? commit.slice(0, n) : '';
}

/** Keeps the last `n` lines of a text. */
export function tailLines(s: string, n: number): string[] {
  const lines = cleanText(s).replace(/\n+$/, '').split('\n');
  return lines.slice(Math.max(0, lines.length - n));
}

/** Joins a relative path onto a link prefix (empty, `../run/`, or a URL ending in `/`). */
export function linkTo(prefix: string | undefined, rel: string): string {
  if (!prefix) return rel;
  return prefix.endsWith('/') ? `${prefix}${rel}` : `${prefix}/${rel}`;
}
