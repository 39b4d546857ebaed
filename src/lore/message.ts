import { simpleParser, type AddressObject, type ParsedMail } from 'mailparser';
import { msgidsIn, rawHeaders } from './mbox.js';
import { parseSubject, type ParsedSubject } from './subject.js';

export interface Person {
  name: string;
  email: string;
}

/** One mail of a thread, decoded: the unit series assembly works on. */
export interface MailMessage {
  messageId: string;
  /** True when the message had no Message-ID and we made one up. */
  syntheticId: boolean;
  inReplyTo?: string;
  references: string[];
  from: Person;
  /** The Date header as sent (git am keeps it as the author date). */
  dateHeader?: string;
  date?: Date;
  subject: ParsedSubject;
  /** The text/plain body, decoded to UTF-8; for a patch sent as an attachment, text + attachment. */
  body: string;
  hasDiff: boolean;
  hasDiffstat: boolean;
  /** Set when the diff came from an attachment: its file name (or content type). */
  attachedPatch?: string;
  /** Problems found while decoding (no text part, ...), already phrased for the user. */
  notes: string[];
  /** Position in the thread file: breaks date ties. */
  order: number;
}

/** A diff starts the line: git's `diff --git`, a plain `--- a/` + `+++ b/` pair, or binary. */
const DIFF_RE = /^(?:diff --git \S+ \S+|---[ \t]\S.*\n\+\+\+[ \t]\S|GIT binary patch|Index: \S)/m;
const DIFFSTAT_RE = /^\s*\d+ files? changed(?:, \d+ insertions?\(\+\))?(?:, \d+ deletions?\(-\))?/m;

export function hasDiff(text: string): boolean {
  return DIFF_RE.test(text);
}

export function hasDiffstat(text: string): boolean {
  return DIFFSTAT_RE.test(text);
}

const PARSER_OPTIONS = {
  skipHtmlToText: true,
  skipTextToHtml: true,
  skipImageLinks: true,
  skipTextLinks: true,
  keepDeliveryStatus: true,
} as const;

function firstAddress(from: AddressObject | AddressObject[] | undefined): Person | undefined {
  const obj = Array.isArray(from) ? from[0] : from;
  const addr = obj?.value[0];
  if (!addr) return undefined;
  return { name: (addr.name ?? '').trim(), email: (addr.address ?? '').trim() };
}

function isPatchAttachment(a: ParsedMail['attachments'][number]): boolean {
  const type = a.contentType.toLowerCase();
  const name = (a.filename ?? '').toLowerCase();
  if (!/^text\/|^application\/(?:octet-stream|x-patch|x-diff)/.test(type) && !/\.(?:patch|diff)$/.test(name)) return false;
  return true;
}

/** Parses one raw message. `order` is its position in the source, used to keep a stable order. */
export async function parseMessage(raw: Buffer, order: number): Promise<MailMessage> {
  const parsed = await simpleParser(raw, PARSER_OPTIONS);
  const headers = rawHeaders(raw);
  const header = (name: string): string | undefined => headers.find(([k]) => k === name)?.[1];
  const notes: string[] = [];

  let messageId = msgidsIn(header('message-id'))[0];
  const syntheticId = messageId === undefined;
  if (messageId === undefined) messageId = `no-message-id-${order}@kharness.invalid`;

  const references = msgidsIn(header('references'));
  const inReplyTo = msgidsIn(header('in-reply-to'))[0] ?? (references.length > 0 ? references[references.length - 1] : undefined);
  const from = firstAddress(parsed.from) ?? { name: '', email: '' };

  let body = parsed.text ?? '';
  if (body === '' && parsed.html) notes.push(`message <${messageId}> has only an HTML part; its text was ignored`);
  body = body.replace(/\r\n/g, '\n');

  let attachedPatch: string | undefined;
  let author = from;
  let subject = parseSubject(parsed.subject ?? '');
  if (!hasDiff(body)) {
    for (const att of parsed.attachments) {
      if (!isPatchAttachment(att)) continue;
      const content = att.content.toString('utf8').replace(/\r\n/g, '\n');
      if (!hasDiff(content)) continue;
      attachedPatch = att.filename ?? att.contentType;
      if (/^(?:From [0-9a-f]{40} |From: )/.test(content)) {
        // A whole `git format-patch` file: its own headers name the author and the commit subject.
        const inner = await simpleParser(att.content, PARSER_OPTIONS);
        body = (inner.text ?? '').replace(/\r\n/g, '\n');
        author = firstAddress(inner.from) ?? from;
        // The mail's own subject keeps the version and counter; the file's gives the commit subject.
        const innerSubject = inner.subject ? parseSubject(inner.subject).subject : '';
        if (innerSubject) subject = { ...subject, subject: innerSubject };
      } else {
        body = joinBareDiff(body, content);
      }
      break;
    }
  }

  const text = body;
  return {
    messageId,
    syntheticId,
    inReplyTo: inReplyTo === messageId ? undefined : inReplyTo,
    references: references.filter((r) => r !== messageId),
    from: author,
    dateHeader: header('date'),
    date: parsed.date && !Number.isNaN(parsed.date.getTime()) ? parsed.date : undefined,
    subject,
    body: text,
    hasDiff: hasDiff(text),
    hasDiffstat: hasDiffstat(text),
    attachedPatch,
    notes,
    order,
  };
}

/** A bare diff attached under a commit message typed in the mail: message, `---`, diff. */
function joinBareDiff(mailText: string, attachment: string): string {
  const intro = mailText.trimEnd();
  const diffStart = attachment.search(DIFF_RE);
  const separator = /^---$/m.test(attachment.slice(0, Math.max(diffStart, 0))) ? '' : '---\n';
  return `${intro}\n${separator}${attachment}`;
}
