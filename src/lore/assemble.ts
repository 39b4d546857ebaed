import { createHash } from 'node:crypto';
import { InputError } from '../common/errors.js';
import type { MailMessage, Person } from './message.js';
import { SeriesSchema, type Series, type SeriesPatch, type SeriesTrailer } from './schema.js';
import { canonicalSubject, seriesSlug } from './subject.js';
import {
  extractFollowupTrailers,
  insertTrailers,
  ownTrailers,
  senderMatch,
  trailerKey,
  type Trailer,
  type TrailerKind,
} from './trailers.js';

export interface AssembleOptions {
  /** Which version to assemble; the newest when absent. */
  version?: number;
  /** What was read, for series.json and error messages. */
  source: string;
  threadUrl?: string;
  /** The message the user pointed at, if any: used to say when it belongs to another version. */
  wantedMessageId?: string;
  /** Squash each fix-up into the patch it fixes (its diff appended to that patch's) instead of applying it as a step of its own. */
  squashFixups?: boolean;
}

export interface AssembledSeries {
  series: Series;
  /** The series as an mbox `git am` takes: one message per patch, collected trailers added. */
  mbox: string;
}

type Role = 'patch' | 'cover' | 'followup' | 'fixup';

interface CollectedTrailer extends Trailer {
  kind: TrailerKind;
  followup: MailMessage;
}

/** The pieces of a thread, indexed: built once, read by every step below. */
class Thread {
  readonly byId = new Map<string, MailMessage>();
  readonly role = new Map<string, Role>();
  /** A fix-up's Message-ID → the patch it fixes. */
  readonly fixupTarget = new Map<string, MailMessage>();
  readonly warnings: string[] = [];

  constructor(messages: readonly MailMessage[]) {
    for (const m of messages) {
      const first = this.byId.get(m.messageId);
      if (first) {
        // lore archives a mail sent to two lists twice, with other list headers: one message.
        if (!sameMail(first, m)) this.warnings.push(`dropped a second message with Message-ID <${m.messageId}> ("${m.subject.full}"): its copies differ; kept the first`);
        continue;
      }
      this.byId.set(m.messageId, m);
      if (m.syntheticId) this.warnings.push(`message "${m.subject.full}" has no Message-ID; called it <${m.messageId}>`);
      this.warnings.push(...m.notes);
    }
  }

  get messages(): MailMessage[] {
    return [...this.byId.values()];
  }

  parent(m: MailMessage): MailMessage | undefined {
    if (m.inReplyTo) {
      const p = this.byId.get(m.inReplyTo);
      if (p) return p;
    }
    // In-Reply-To may name a message lore does not have; the nearest known reference will do.
    for (let i = m.references.length - 1; i >= 0; i--) {
      const p = this.byId.get(m.references[i] as string);
      if (p && p !== m) return p;
    }
    return undefined;
  }

  ancestors(m: MailMessage): MailMessage[] {
    const out: MailMessage[] = [];
    const seen = new Set([m.messageId]);
    for (let p = this.parent(m); p && !seen.has(p.messageId); p = this.parent(p)) {
      seen.add(p.messageId);
      out.push(p);
    }
    return out;
  }
}

/** Two copies of one mail: same sender, subject and text, whatever the headers around them. */
function sameMail(a: MailMessage, b: MailMessage): boolean {
  return a.from.email.toLowerCase() === b.from.email.toLowerCase() && a.subject.full === b.subject.full && a.body.trimEnd() === b.body.trimEnd();
}

function label(m: MailMessage): string {
  return `<${m.messageId}> ("${m.subject.full}")`;
}

function sender(p: Person): string {
  return p.name ? `${p.name} <${p.email}>` : `<${p.email}>`;
}

function newer(a: MailMessage, b: MailMessage): boolean {
  const ta = a.date?.getTime() ?? 0;
  const tb = b.date?.getTime() ?? 0;
  return ta !== tb ? ta > tb : a.order > b.order;
}

function isExplicitCover(m: MailMessage): boolean {
  return !m.subject.reply && m.subject.counter === 0 && !m.subject.counterInferred;
}

/**
 * Which messages are patches of a series: a diff outside a reply. A diff without a counter that
 * answers a message of the thread is a fix-up proposed in review unless it names a version of
 * its own (a single patch rerolled as a reply to its previous version).
 */
function classify(thread: Thread): void {
  for (const m of thread.messages) {
    if (isExplicitCover(m)) thread.role.set(m.messageId, 'cover');
    else if (m.subject.reply || !m.hasDiff) thread.role.set(m.messageId, 'followup');
    else if (!m.subject.counterInferred) thread.role.set(m.messageId, 'patch');
    else {
      const parent = thread.parent(m);
      const rerolled = parent !== undefined && !m.subject.revisionInferred && m.subject.revision !== parent.subject.revision;
      const answersRootWithoutDiff = parent !== undefined && !parent.hasDiff && !parent.subject.reply && thread.parent(parent) === undefined;
      // A [PATCH] sent into a discussion (a fix answering a bug report, or a reply to it) is a
      // patch: no message above it carries a diff it could be a fix-up of.
      const answersDiscussion = parent !== undefined && m.subject.patch && !thread.ancestors(m).some((a) => a.hasDiff);
      thread.role.set(m.messageId, parent === undefined || rerolled || answersRootWithoutDiff || answersDiscussion ? 'patch' : 'followup');
    }
  }
}

/** `… (fix)`, `…-fix`, `… fixup`, `fixup! …`: how a fix-up to squash names itself. */
const FIXUP_SUBJECT = /(?:\(fix(?:-?up)?\)|[\s-]fix(?:-?up)?)$|^(?:fixup|squash)!/i;

/**
 * Fix-ups: a patch mail (not a `Re:`) with a diff, answering a patch of the thread, whose subject
 * says it is a fix (`[PATCH v3 3/3] … (fix)`, Andrew Morton's `… fix`). It goes right after the
 * patch it fixes, which it needs (alone it does not apply); it never takes that patch's place,
 * even when it carries the same `3/3`. The same subject as the patch answered, or another version
 * than its own, is a reroll instead.
 */
function markFixups(thread: Thread): void {
  for (const m of thread.messages) {
    if (m.subject.reply || !m.hasDiff || !FIXUP_SUBJECT.test(m.subject.subject)) continue;
    const ancestors = thread.ancestors(m);
    const target = ancestors.find((a) => thread.role.get(a.messageId) === 'patch');
    if (!target || target.subject.subject === m.subject.subject) continue;
    // `[PATCH v2] … fix` answering v1 is v2 of a patch named so, unless it resends a fix-up.
    const resendsFixup = ancestors.some((a) => thread.role.get(a.messageId) === 'fixup' && a.subject.subject === m.subject.subject);
    if (!m.subject.revisionInferred && m.subject.revision !== revisionOf(thread, target) && !resendsFixup) continue;
    thread.role.set(m.messageId, 'fixup');
    thread.fixupTarget.set(m.messageId, target);
  }
}

/** A patch that names no version takes its cover's, or patch 1's when it answers that. */
function revisionOf(thread: Thread, m: MailMessage): number {
  const target = thread.fixupTarget.get(m.messageId);
  if (target) return revisionOf(thread, target);
  if (!m.subject.revisionInferred) return m.subject.revision;
  const parent = thread.parent(m);
  if (!parent || parent.subject.revisionInferred || parent.subject.reply) return m.subject.revision;
  const parentIsCover = thread.role.get(parent.messageId) === 'cover' || !parent.hasDiff;
  const parentIsFirstPatch = parent.hasDiff && parent.subject.counter === 1 && m.subject.counter > 1;
  return parentIsCover || parentIsFirstPatch ? parent.subject.revision : m.subject.revision;
}

interface Version {
  revision: number;
  patches: Map<number, MailMessage[]>;
  covers: MailMessage[];
}

function groupVersions(thread: Thread): Map<number, Version> {
  const versions = new Map<number, Version>();
  const get = (revision: number): Version => {
    let v = versions.get(revision);
    if (!v) {
      v = { revision, patches: new Map(), covers: [] };
      versions.set(revision, v);
    }
    return v;
  };
  for (const m of thread.messages) {
    const role = thread.role.get(m.messageId);
    if (role === 'cover') get(m.subject.revision).covers.push(m);
    if (role !== 'patch') continue;
    const v = get(revisionOf(thread, m));
    const slot = v.patches.get(m.subject.counter) ?? [];
    slot.push(m);
    v.patches.set(m.subject.counter, slot);
  }
  // A version made only of a cover letter is not a version we can apply.
  for (const [rev, v] of versions) if (v.patches.size === 0) versions.delete(rev);
  return versions;
}

function pickNewest(candidates: readonly MailMessage[], what: string, warnings: string[]): MailMessage {
  let best = candidates[0] as MailMessage;
  for (const c of candidates.slice(1)) if (newer(c, best)) best = c;
  if (candidates.length > 1) {
    const others = candidates.filter((c) => c !== best).map(label).join(', ');
    warnings.push(`${candidates.length} messages are ${what}; took the newest ${label(best)}, not ${others}`);
  }
  return best;
}

/** The cover letter of a version: an explicit `0/N`, else a thread root the patches answer. */
function coverOf(thread: Thread, v: Version, warnings: string[]): MailMessage | undefined {
  if (v.covers.length > 0) return pickNewest(v.covers, `v${v.revision} cover letters`, warnings);
  const counters = [...v.patches.keys()].sort((a, b) => a - b);
  for (const c of counters) {
    for (const p of v.patches.get(c) ?? []) {
      const parent = thread.parent(p);
      if (!parent || parent.hasDiff || parent.subject.reply) continue;
      if (thread.role.get(parent.messageId) === 'patch') continue;
      // A naked cover: no `0/N`, but patches answer it; trusted with a diffstat or as thread
      // root, and only from the patches' sender (as b4 checks): a bug report someone else sent,
      // which the fix answers, is context, not the series' cover letter.
      if (parent.from.email.toLowerCase() !== p.from.email.toLowerCase()) continue;
      if (parent.hasDiffstat || thread.parent(parent) === undefined) return parent;
    }
  }
  return undefined;
}

/**
 * How many patches a version has: what its cover letter says, else what most of its patches say
 * (a stray `[PATCH 1/1]` answering the series must not make a 2-patch series look like 1 or 3).
 */
function totalOf(v: Version, cover: MailMessage | undefined): number {
  if (cover && !cover.subject.counterInferred && cover.subject.total > 0) return cover.subject.total;
  const votes = new Map<number, number>();
  for (const msgs of v.patches.values()) for (const m of msgs) votes.set(m.subject.total, (votes.get(m.subject.total) ?? 0) + 1);
  let best = 0;
  let bestVotes = 0;
  for (const [total, n] of votes) {
    if (n > bestVotes || (n === bestVotes && total > best)) {
      best = total;
      bestVotes = n;
    }
  }
  return best;
}

/** A hash of a patch's diff that ignores line numbers, whitespace and index lines (like git patch-id). */
export function diffHash(body: string): string | undefined {
  const lines = body.split('\n');
  const start = lines.findIndex((l) => /^diff --git /.test(l) || /^--- \S/.test(l));
  if (start < 0) return undefined;
  const hash = createHash('sha1');
  for (const line of lines.slice(start)) {
    if (/^-- ?$/.test(line)) break;
    if (/^index [0-9a-f]/.test(line) || /^(?:base-commit|prerequisite-\S+):/.test(line)) continue;
    const normalized = line.startsWith('@@') ? '@@' : line.replace(/\s+/g, '');
    if (normalized) hash.update(`${normalized}\n`);
  }
  return hash.digest('hex');
}

/** In-body `From:` (a patch sent on someone else's behalf) names the author, as git am reads it. */
function authorOf(m: MailMessage): Person {
  const first = /^\s*From:\s*(.+?)\s*\n/.exec(m.body);
  if (first) {
    const value = first[1] as string;
    const addr = /^(.*?)\s*<([^>]+)>$/.exec(value);
    if (addr) return { name: (addr[1] as string).replace(/^"|"$/g, ''), email: addr[2] as string };
    if (/^\S+@\S+$/.test(value)) return { name: '', email: value };
  }
  return m.from;
}

function encodeHeader(value: string): string {
  // eslint-disable-next-line no-control-regex
  if (/^[\x20-\x7e]*$/.test(value)) return value;
  return `=?UTF-8?B?${Buffer.from(value, 'utf8').toString('base64')}?=`;
}

function encodeAddress(p: Person): string {
  if (!p.name) return `<${p.email}>`;
  // eslint-disable-next-line no-control-regex
  const name = /^[\x20-\x7e]*$/.test(p.name) ? (/[(),.:;<>@[\]"\\]/.test(p.name) ? `"${p.name.replace(/["\\]/g, '\\$&')}"` : p.name) : encodeHeader(p.name);
  return `${name} <${p.email}>`;
}

function mboxMessage(m: MailMessage, subject: string, author: Person, body: string): string {
  const headers = [
    'From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001',
    `From: ${encodeAddress(author)}`,
    ...(m.dateHeader ? [`Date: ${m.dateHeader}`] : []),
    `Subject: ${encodeHeader(subject)}`,
    `Message-ID: <${m.messageId}>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=UTF-8',
    'Content-Transfer-Encoding: 8bit',
  ];
  const text = body.endsWith('\n') ? body : `${body}\n`;
  return `${headers.join('\n')}\n\n${text}\n`;
}

export function assembleSeries(messages: readonly MailMessage[], opts: AssembleOptions): AssembledSeries {
  if (messages.length === 0) throw new InputError(`${opts.source} holds no messages: the thread is empty`);
  const thread = new Thread(messages);
  const warnings = thread.warnings;
  classify(thread);
  markFixups(thread);

  const versions = groupVersions(thread);
  if (versions.size === 0) {
    throw new InputError(
      `no patches in ${opts.source}: none of its ${thread.byId.size} message(s) carries a diff outside a reply`,
      'point at a thread that holds a [PATCH] series, or at one of its patches',
    );
  }
  const revisions = [...versions.keys()].sort((a, b) => a - b);
  const revision = opts.version ?? (revisions[revisions.length - 1] as number);
  const chosen = versions.get(revision);
  if (!chosen) {
    throw new InputError(`there is no v${revision} in ${opts.source}; it has ${revisions.map((r) => `v${r}`).join(', ')}`);
  }

  const covers = new Map<number, MailMessage | undefined>();
  for (const [rev, v] of versions) covers.set(rev, coverOf(thread, v, rev === revision ? warnings : []));
  const ownCover = covers.get(revision);
  const total = totalOf(chosen, ownCover);

  // One message per slot of the chosen version; duplicates (a RESEND, a mail sent twice) resolve to the newest.
  const slots = new Map<number, { msg: MailMessage; fromVersion: number }>();
  for (const [counter, msgs] of chosen.patches) {
    if (counter < 1 || counter > total) {
      for (const m of msgs) warnings.push(`ignored ${label(m)}: patch ${counter} is outside 1..${total}`);
      continue;
    }
    const fitting = msgs.filter((m) => m.subject.total === total);
    for (const m of msgs) {
      if (!fitting.includes(m)) warnings.push(`ignored ${label(m)}: it is numbered ${counter}/${m.subject.total}, but v${revision} has ${total} patch(es)`);
    }
    if (fitting.length > 0) {
      slots.set(counter, { msg: pickNewest(fitting, `v${revision} patch ${counter}/${total}`, warnings), fromVersion: revision });
    }
  }
  fillPartialReroll(thread, versions, revision, total, slots, warnings);
  const missing = [];
  for (let i = 1; i <= total; i++) if (!slots.has(i)) missing.push(i);
  if (missing.length > 0) {
    const have = [...slots.keys()].sort((a, b) => a - b).map((i) => `${i}/${total}`);
    throw new InputError(
      `v${revision} is missing patch ${missing.map((i) => `${i}/${total}`).join(', ')} ` +
        `(the thread has ${have.length > 0 ? have.join(', ') : 'none'}) in ${opts.source}`,
      'lore may not have every message yet, or the patch went to another list; try again later or pass the full thread as an mbox',
    );
  }
  // A partial reroll usually has no cover of its own; the one it completes describes the series.
  let cover = ownCover;
  for (let i = 1; cover === undefined && i <= total; i++) {
    const slot = slots.get(i);
    if (slot && slot.fromVersion !== revision) cover = covers.get(slot.fromVersion);
  }

  if (opts.wantedMessageId) {
    const wanted = thread.byId.get(opts.wantedMessageId);
    if (!wanted) warnings.push(`the thread does not contain the message asked for, <${opts.wantedMessageId}>`);
    else if (thread.role.get(wanted.messageId) !== 'followup') {
      const wantedRev = thread.role.get(wanted.messageId) === 'cover' ? wanted.subject.revision : revisionOf(thread, wanted);
      if (wantedRev !== revision && opts.version === undefined) {
        warnings.push(`<${wanted.messageId}> is part of v${wantedRev}; took v${revision}, the newest (use -v ${wantedRev} for that one)`);
      }
    }
  }

  const ctx: TrailerContext = { thread, attached: collectFollowups(thread, warnings), hashes: new Map(), covers, ownCover, cover, revision, warnings };
  for (const m of thread.messages) if (thread.role.get(m.messageId) === 'patch') ctx.hashes.set(m.messageId, diffHash(m.body));
  const selected = new Set([...slots.values()].map((s) => s.msg.messageId));
  const entries = orderWithFixups(thread, slots, total, revision, warnings);
  const { patches, mboxParts } = writePatches(ctx, entries, { total, selected, squashFixups: opts.squashFixups === true });

  for (const m of thread.messages) {
    if (thread.role.get(m.messageId) === 'followup' && m.hasDiff) {
      warnings.push(`reply ${label(m)} from ${sender(m.from)} carries a diff: treated as review, not as a patch of the series`);
    }
  }

  // Like b4: base-commit is in the cover letter, or in patch 1 when there is none.
  const scanned = [cover, slots.get(1)?.msg].filter((m): m is MailMessage => m !== undefined);
  const baseCommit = scanned.map((m) => /^base-commit:\s*([0-9a-f]{7,40})\s*$/m.exec(m.body)?.[1]).find((x) => x !== undefined);
  const unique = (re: RegExp): string[] => [...new Set(scanned.flatMap((m) => [...m.body.matchAll(re)].map((x) => x[1] as string)))];

  const answers = discussionAnswered(thread, cover, slots.get(1)?.msg);
  if (answers) warnings.push(`the series answers ${label(answers)} from ${sender(answers.from)}: linked as context, not taken as its cover letter`);
  const baseTree = namedTree(scanned);
  const subject = cover ? cover.subject.subject : patches[0]?.subject ?? '';
  const result: Series = {
    schemaVersion: 1,
    version: revision,
    versions: revisions,
    slug: seriesSlug(revision, subject),
    subject,
    cover: cover
      ? { subject: cover.subject.subject, author: cover.from, messageId: cover.messageId, body: cover.body, date: cover.date?.toISOString() }
      : undefined,
    patches,
    inReplyTo: answers ? { subject: answers.subject.full, author: answers.from, messageId: answers.messageId, date: answers.date?.toISOString() } : undefined,
    baseCommit,
    baseTree,
    prerequisitePatchIds: unique(/^prerequisite-patch-id:\s*([0-9a-f]{40})\s*$/gm),
    prerequisiteMessageIds: unique(/^prerequisite-message-id:\s*<?([^\s<>]+)>?\s*$/gm),
    warnings: [...new Set(warnings)],
    source: opts.source,
    threadUrl: opts.threadUrl,
  };
  return { series: SeriesSchema.parse(result), mbox: mboxParts.join('') };
}

/**
 * The series' patches and their mails for `git am`, in order. A fix-up is its own step, or with
 * `squashFixups` its diff joins its target's mail (git apply takes a second diff of a file on top
 * of the first) and the target lists it.
 */
function writePatches(ctx: TrailerContext, entries: SeriesEntry[], opts: { total: number; selected: Set<string>; squashFixups: boolean }): { patches: SeriesPatch[]; mboxParts: string[] } {
  const { revision, warnings } = ctx;
  const steps = opts.squashFixups ? entries.filter((e) => !e.fixupOf).length : entries.length;
  const patches: SeriesPatch[] = [];
  const mails: Array<{ msg: MailMessage; subject: string; author: Person; body: string }> = [];
  for (const entry of entries) {
    const { msg, fromVersion, counter, fixupOf } = entry;
    const slotName = `v${revision} ${entry.label}`;
    const own = ownTrailers(msg.body);
    const added = trailersFor(ctx, msg, fromVersion, slotName, own, opts.selected, fixupOf !== undefined);
    const target = fixupOf ? patches.find((p) => p.messageId === fixupOf.messageId) : undefined;
    if (target && opts.squashFixups) {
      const mail = mails[mails.length - 1] as (typeof mails)[number];
      mail.body = squashDiff(mail.body, msg.body);
      target.squashedFixups = [...(target.squashedFixups ?? []), { messageId: msg.messageId, subject: msg.subject.subject }];
      warnings.push(`${slotName}: squashed the fix-up ${label(msg)} into ${target.label} ${label(fixupOf as MailMessage)} (--squash-fixups); its own trailers are dropped`);
      continue;
    }
    const author = authorOf(msg);
    const subject = canonicalSubject(msg.subject.subject, revision, counter, opts.total);
    mails.push({ msg, subject: fixupOf ? subject.replace(/\]/, ' fixup]') : subject, author, body: insertTrailers(msg.body, added) });
    const index = patches.length + 1;
    patches.push({
      index,
      total: steps,
      subject: msg.subject.subject,
      author,
      messageId: msg.messageId,
      trailers: [...own, ...added],
      date: msg.date?.toISOString(),
      fromVersion,
      label: entry.label,
      fixupOf: target ? { index: target.index, label: target.label ?? `${counter}/${opts.total}`, messageId: target.messageId } : undefined,
    });
    if (target) warnings.push(`${slotName}: ${label(msg)} is a fix-up of ${target.label} ${label(fixupOf as MailMessage)}: applied right after it, as patch ${index} of ${steps}, not in its place`);
    if (msg.attachedPatch) warnings.push(`${slotName} ${label(msg)} was sent as an attachment (${msg.attachedPatch}); used the attached diff`);
  }
  return { patches, mboxParts: mails.map((m) => mboxMessage(m.msg, m.subject, m.author, m.body)) };
}

/** The diff of a patch mail: from its first file header to the signature (`-- `), if any. */
function diffPart(body: string): string {
  const lines = body.split('\n');
  const start = lines.findIndex((l) => /^diff --git /.test(l) || /^--- \S/.test(l));
  if (start < 0) return '';
  const sig = lines.findIndex((l, i) => i > start && /^-- ?$/.test(l));
  return lines.slice(start, sig < 0 ? undefined : sig).join('\n').replace(/\n*$/, '\n');
}

/** A patch body with a fix-up's diff added after its own, before its signature. */
function squashDiff(body: string, fixupBody: string): string {
  const lines = body.split('\n');
  const start = lines.findIndex((l) => /^diff --git /.test(l) || /^--- \S/.test(l));
  const sig = lines.findIndex((l, i) => start >= 0 && i > start && /^-- ?$/.test(l));
  const at = sig < 0 ? lines.length : sig;
  const head = lines.slice(0, at).join('\n').replace(/\n*$/, '\n');
  return `${head}${diffPart(fixupBody)}${lines.slice(at).join('\n')}`;
}

interface SeriesEntry {
  msg: MailMessage;
  fromVersion: number;
  /** The series' own number: the patch's, or for a fix-up its target's. */
  counter: number;
  label: string;
  fixupOf?: MailMessage;
}

/**
 * The patches in the order they apply: each slot, then the fix-ups of it, oldest first. Of two
 * fix-ups of one patch with the same subject (a fix-up resent), the newest is taken. A fix-up of
 * a patch of this version that the series does not use (an older copy) is left out, saying so.
 */
function orderWithFixups(thread: Thread, slots: Map<number, { msg: MailMessage; fromVersion: number }>, total: number, revision: number, warnings: string[]): SeriesEntry[] {
  const byTarget = new Map<string, MailMessage[]>();
  for (const [id, target] of thread.fixupTarget) {
    const list = byTarget.get(target.messageId) ?? [];
    list.push(thread.byId.get(id) as MailMessage);
    byTarget.set(target.messageId, list);
  }
  const entries: SeriesEntry[] = [];
  const used = new Set<string>();
  for (let counter = 1; counter <= total; counter++) {
    const { msg, fromVersion } = slots.get(counter) as { msg: MailMessage; fromVersion: number };
    const slotLabel = `${counter}/${total}`;
    entries.push({ msg, fromVersion, counter, label: slotLabel });
    used.add(msg.messageId);
    const bySubject = new Map<string, MailMessage[]>();
    for (const f of byTarget.get(msg.messageId) ?? []) bySubject.set(f.subject.subject, [...(bySubject.get(f.subject.subject) ?? []), f]);
    const fixups = [...bySubject.values()].map((same) => pickNewest(same, `fix-ups of ${slotLabel} named "${same[0]?.subject.subject}"`, warnings));
    fixups.sort((a, b) => (newer(a, b) ? 1 : -1));
    for (const [k, f] of fixups.entries()) {
      entries.push({ msg: f, fromVersion, counter, label: `${slotLabel} fix-up${fixups.length > 1 ? ` ${k + 1}` : ''}`, fixupOf: msg });
    }
  }
  for (const [id, target] of thread.fixupTarget) {
    if (!used.has(target.messageId) && revisionOf(thread, target) === revision) {
      warnings.push(`ignored the fix-up ${label(thread.byId.get(id) as MailMessage)}: it fixes ${label(target)}, which v${revision} does not use`);
    }
  }
  return entries;
}

/**
 * The tree a series says it is for, as 0-day reads it: a subject prefix that is not PATCH, a
 * version or a counter (`[PATCH mm-new v3 0/2]`, `[PATCH 6.1.y]`), else a `Based-on:` line
 * naming a ref (one naming a message is a prerequisite series, not a tree).
 */
function namedTree(scanned: readonly MailMessage[]): Series['baseTree'] {
  for (const m of scanned) {
    const prefix = m.subject.extraPrefixes.find((w) => /^[A-Za-z0-9][\w.\/-]*$/.test(w));
    if (prefix) return { name: prefix, from: 'subject' };
  }
  for (const m of scanned) {
    const based = /^Based-on:\s*([A-Za-z0-9][\w.\/-]*)\s*$/im.exec(m.body);
    if (based) return { name: based[1] as string, from: 'based-on' };
  }
  return undefined;
}

/**
 * The message outside the series that its first mail answers (a bug report, a discussion), if
 * any: shown with the series so the reviewer sees what the fix is for.
 */
function discussionAnswered(thread: Thread, cover: MailMessage | undefined, first: MailMessage | undefined): MailMessage | undefined {
  const top = cover ?? first;
  const parent = top ? thread.parent(top) : undefined;
  // Earlier versions' covers and patches are the series' own history, not a discussion.
  if (!parent || thread.role.get(parent.messageId) !== 'followup') return undefined;
  return parent;
}

interface TrailerContext {
  thread: Thread;
  /** Follow-up trailers by the Message-ID of the patch or cover they answer. */
  attached: Map<string, CollectedTrailer[]>;
  hashes: Map<string, string | undefined>;
  covers: Map<number, MailMessage | undefined>;
  /** The chosen version's own cover, and the cover describing the series (may be an earlier one). */
  ownCover: MailMessage | undefined;
  cover: MailMessage | undefined;
  revision: number;
  warnings: string[];
}

/**
 * The trailers to add to one patch: replies to it, replies to its version's cover letter, and
 * reviews of the same diff in other versions. Person-trailers need their sender's name or
 * address; duplicates of the patch's own trailers or of each other are dropped.
 */
function trailersFor(ctx: TrailerContext, msg: MailMessage, fromVersion: number, slotName: string, own: Trailer[], selected: Set<string>, fixup: boolean): SeriesTrailer[] {
  const { attached, covers, ownCover, cover, warnings } = ctx;
  const seen = new Set(own.map(trailerKey));
  const added: SeriesTrailer[] = [];
  // `scope` prefixes warnings; cover-letter trailers concern every patch, so they get none.
  const consider = (t: CollectedTrailer, via: string, scope = `${slotName}: `): void => {
    if (seen.has(trailerKey(t))) return;
    if (t.kind === 'person') {
      const match = senderMatch(t.value, t.followup.from);
      if (!match) {
        warnings.push(
          `${scope}did not apply "${t.name}: ${t.value}" from <${t.followup.messageId}>${via}: ` +
            `it was sent by ${sender(t.followup.from)}, not by the person it names`,
        );
        return;
      }
      if (match === 'name') {
        warnings.push(`${scope}applied "${t.name}: ${t.value}" from <${t.followup.messageId}> by name: it was sent from ${t.followup.from.email}`);
      }
    }
    seen.add(trailerKey(t));
    added.push({ name: t.name, value: t.value, from: sender(t.followup.from), messageId: t.followup.messageId });
  };

  for (const t of attached.get(msg.messageId) ?? []) consider(t, '');
  // A fix-up came after the cover letter's acks and is no version's rewrite: only its own replies count.
  if (fixup) return added;
  // The cover letter of the version that sent this patch speaks for all of that version's patches.
  const patchCover = covers.get(fromVersion);
  for (const t of patchCover ? (attached.get(patchCover.messageId) ?? []) : []) consider(t, ' (a reply to the cover letter)', '');
  if (fromVersion !== ctx.revision && ownCover && ownCover !== patchCover) {
    for (const t of attached.get(ownCover.messageId) ?? []) consider(t, ' (a reply to the cover letter)', '');
  }
  if (fromVersion === ctx.revision && cover && cover !== ownCover) {
    // A partial reroll stays the series that cover describes, so its acks apply, as b4 has
    // it; but they were given before this patch was rewritten, which the reviewer must know.
    const before = added.length;
    for (const t of attached.get(cover.messageId) ?? []) consider(t, ' (a reply to the cover letter)', '');
    const list = added.slice(before).map((t) => `"${t.name}: ${t.value}"`).join(', ');
    if (list) warnings.push(`${slotName} was resent after ${list} answered the v${cover.subject.revision} cover letter; applied to it as to the rest of the series (check it still holds)`);
  }
  // Reviews of an earlier version (or of a resent copy) carry over when the diff did not change,
  // as b4 does; never backwards: a review of v3 says nothing about the v2 it replaced.
  const hash = ctx.hashes.get(msg.messageId);
  if (hash) {
    for (const other of ctx.thread.messages) {
      if (other === msg || selected.has(other.messageId) || ctx.hashes.get(other.messageId) !== hash) continue;
      if (revisionOf(ctx.thread, other) > fromVersion) continue;
      const before = added.length;
      for (const t of attached.get(other.messageId) ?? []) consider(t, ` (a review of ${other.subject.full}, same diff)`);
      for (const t of added.slice(before)) {
        warnings.push(`${slotName}: carried "${t.name}: ${t.value}" over from ${label(other)}: the diff is unchanged`);
      }
    }
  }
  return added;
}

/**
 * Completes a version that resent only some patches, each as a reply to the patch it replaces
 * (v3 2/2 answering v2 2/2): the others come from the newest earlier version with the same
 * number of patches. Without that reply structure a gap is a missing patch, not a reroll.
 */
function fillPartialReroll(
  thread: Thread,
  versions: Map<number, Version>,
  revision: number,
  total: number,
  slots: Map<number, { msg: MailMessage; fromVersion: number }>,
  warnings: string[],
): void {
  if (slots.size === total || slots.size === 0) return;
  const answersPrevious = [...slots.entries()].every(([counter, { msg }]) =>
    thread.ancestors(msg).some(
      (a) =>
        thread.role.get(a.messageId) === 'patch' &&
        a.subject.counter === counter &&
        a.subject.total === total &&
        revisionOf(thread, a) < revision,
    ),
  );
  if (!answersPrevious) return;
  const earlier = [...versions.keys()].filter((r) => r < revision).sort((a, b) => b - a);
  for (let counter = 1; counter <= total; counter++) {
    if (slots.has(counter)) continue;
    for (const r of earlier) {
      const candidates = (versions.get(r)?.patches.get(counter) ?? []).filter((m) => m.subject.total === total);
      if (candidates.length === 0) continue;
      const msg = pickNewest(candidates, `v${r} patch ${counter}/${total}`, warnings);
      slots.set(counter, { msg, fromVersion: r });
      warnings.push(`v${revision} resends only some patches (a partial reroll): took ${counter}/${total} from v${r}, ${label(msg)}`);
      break;
    }
  }
}

/** A patch mail (not a `Re:`) with a diff, answering a patch: a fix-up proposed as a patch. */
function isFixupProposal(m: MailMessage): boolean {
  return m.hasDiff && !m.subject.reply;
}

/**
 * Trailers from every follow-up, keyed by the patch or cover letter they answer: a reply to a
 * reply counts for the patch at the top of its branch.
 */
function collectFollowups(thread: Thread, warnings: string[]): Map<string, CollectedTrailer[]> {
  const attached = new Map<string, CollectedTrailer[]>();
  for (const f of thread.messages) {
    if (thread.role.get(f.messageId) !== 'followup') continue;
    const { trailers, rejected } = extractFollowupTrailers(f.body);
    if (trailers.length === 0 && rejected.length === 0) continue;
    const ancestors = thread.ancestors(f);
    const targetAt = ancestors.findIndex((a) => thread.role.get(a.messageId) !== 'followup' || (!a.subject.reply && !a.hasDiff && thread.parent(a) === undefined));
    const target = ancestors[targetAt];
    if (!target) {
      if (trailers.length > 0) warnings.push(`trailers in ${label(f)} answer no patch of this thread; ignored`);
      continue;
    }
    // A fix-up patch sent into the thread has trailers of its own (its Fixes:, Closes:, its
    // acks), as b4 has it: they are not the patch's it answers.
    const proposal = [f, ...ancestors.slice(0, targetAt)].find(isFixupProposal);
    if (proposal) {
      if (trailers.length > 0) warnings.push(`trailers in ${label(f)} belong to the fix-up ${label(proposal)}, not to ${label(target)}; not applied`);
      continue;
    }
    for (const r of rejected) warnings.push(`ignored ${r} in ${label(f)}`);
    const list = attached.get(target.messageId) ?? [];
    for (const t of trailers) list.push({ ...t, followup: f });
    attached.set(target.messageId, list);
  }
  return attached;
}
