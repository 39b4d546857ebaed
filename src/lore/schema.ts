import { z } from 'zod';

export const PersonSchema = z.object({ name: z.string(), email: z.string() });

export const SeriesTrailerSchema = z.object({
  name: z.string(),
  value: z.string(),
  /** Who sent the follow-up the trailer came from; absent for the patch's own trailers. */
  from: z.string().optional(),
  /** The follow-up (or cover reply) the trailer came from. */
  messageId: z.string().optional(),
});

/** One signature of a patch mail (see attest.ts). */
export const SignatureSchema = z.object({
  method: z.enum(['dkim', 'patatt']),
  status: z.enum(['good', 'bad', 'unknown']),
  identity: z.string(),
  algorithm: z.string().optional(),
  detail: z.string(),
});

/** A patch mail's attestation: its overall status, every signature, and one line for people. */
export const AttestationSchema = z.object({
  status: z.enum(['signed', 'bad', 'unknown', 'unsigned']),
  signatures: z.array(SignatureSchema),
  summary: z.string(),
});

export const SeriesPatchSchema = z.object({
  index: z.number().int().positive(),
  total: z.number().int().positive(),
  /** The commit subject, without `[PATCH ...]`. */
  subject: z.string(),
  author: PersonSchema,
  messageId: z.string(),
  /** Every trailer of the commit message as written to series.mbox, own ones first. */
  trailers: z.array(SeriesTrailerSchema),
  date: z.string().optional(),
  /** The version whose mail supplied this patch (differs from the series' on a partial reroll). */
  fromVersion: z.number().int().positive(),
  /** DKIM and patatt signatures of the patch mail as fetched; absent in series written before attestation. */
  attestation: AttestationSchema.optional(),
  /** How reports name it: `2/3` as the series numbers it, `2/3 fix-up` for a fix-up of 2/3. */
  label: z.string().optional(),
  /** Set on a fix-up posted in reply to a patch: applied right after it, never in its place. */
  fixupOf: z.object({ index: z.number().int().positive(), label: z.string(), messageId: z.string() }).optional(),
  /** Fix-ups squashed into this patch (`fetch --squash-fixups`): their diffs follow its own in series.mbox. */
  squashedFixups: z.array(z.object({ messageId: z.string(), subject: z.string() })).optional(),
});

export const SeriesCoverSchema = z.object({
  subject: z.string(),
  author: PersonSchema,
  messageId: z.string(),
  body: z.string(),
  date: z.string().optional(),
});

export const SeriesSchema = z.object({
  schemaVersion: z.literal(1),
  version: z.number().int().positive(),
  /** Every version found in the thread, ascending. */
  versions: z.array(z.number().int().positive()),
  slug: z.string().regex(/^[a-z0-9][a-z0-9-]*$/),
  subject: z.string(),
  cover: SeriesCoverSchema.optional(),
  /** The message outside the series that it answers (a bug report the fix replies to). */
  inReplyTo: SeriesCoverSchema.omit({ body: true }).optional(),
  patches: z.array(SeriesPatchSchema).min(1),
  baseCommit: z.string().optional(),
  /** The tree the series names (a subject prefix like `mm-new`, or a `Based-on:` ref). */
  baseTree: z.object({ name: z.string(), from: z.enum(['subject', 'based-on']) }).optional(),
  prerequisitePatchIds: z.array(z.string()),
  prerequisiteMessageIds: z.array(z.string()),
  warnings: z.array(z.string()),
  /** What was read: the URL fetched, the mbox file, or `-` for stdin. */
  source: z.string(),
  threadUrl: z.string().optional(),
});

export type Series = z.infer<typeof SeriesSchema>;
export type SeriesPatch = z.infer<typeof SeriesPatchSchema>;
export type SeriesTrailer = z.infer<typeof SeriesTrailerSchema>;
export type SeriesCover = z.infer<typeof SeriesCoverSchema>;
export type AttestationRecord = z.infer<typeof AttestationSchema>;
