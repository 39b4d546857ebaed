import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../../src/common/errors.js';
import { joinMboxrd, maybeGunzip, msgidsIn, rawHeaders, splitMbox } from '../../../src/lore/mbox.js';
import { fixture } from './helpers.js';

const msg = (id: string, body: string): string => `From: a@example.com\nSubject: s ${id}\nMessage-ID: <${id}>\n\n${body}`;

describe('splitMbox', () => {
  it('splits lore mboxrd and unquotes >From one level', () => {
    const mbox = [
      'From mboxrd@z Thu Jan  1 00:00:00 1970',
      msg('a@x', 'hello\n>From quoted once\n>>From quoted twice\n'),
      'From mboxrd@z Thu Jan  1 00:00:00 1970',
      msg('b@x', 'second\n'),
    ].join('\n');
    const out = splitMbox(Buffer.from(mbox));
    expect(out).toHaveLength(2);
    expect(out[0]?.toString()).toContain('\nFrom quoted once\n>From quoted twice\n');
    expect(out[0]?.toString().endsWith('twice\n')).toBe(true);
    expect(out[1]?.toString()).toContain('Message-ID: <b@x>');
  });

  it('round-trips through joinMboxrd, escaping From lines', () => {
    const messages = [Buffer.from(msg('a@x', 'From the start\n>From again\nend\n')), Buffer.from(msg('b@x', 'x\n'))];
    const joined = joinMboxrd(messages);
    expect(joined.toString()).toContain('\n>From the start\n>>From again\n');
    expect(splitMbox(joined).map((b) => b.toString())).toEqual(messages.map((b) => b.toString()));
  });

  it('splits git format-patch output and does not split at a body line starting with From', () => {
    const mbox = [
      'From 1234567890abcdef1234567890abcdef12345678 Mon Sep 17 00:00:00 2001',
      msg('p1@x', 'text\n\nFrom the trace it is clear\nthat this is one message.\n'),
      'From abcdef1234567890abcdef1234567890abcdef12 Mon Sep 17 00:00:00 2001',
      msg('p2@x', 'two\n'),
    ].join('\n');
    const out = splitMbox(Buffer.from(mbox));
    expect(out).toHaveLength(2);
    expect(out[0]?.toString()).toContain('From the trace it is clear');
  });

  it('takes a bare message (an .eml) as one message', () => {
    expect(splitMbox(Buffer.from(msg('a@x', 'only\n')))).toHaveLength(1);
  });

  it('finds no messages in text that is not mail, nor in nothing', () => {
    expect(splitMbox(Buffer.from('just some words\nand more\n'))).toHaveLength(0);
    expect(splitMbox(Buffer.alloc(0))).toHaveLength(0);
  });

  it('keeps 8-bit bytes untouched (charset decoding is mailparser’s job)', () => {
    const latin1 = Buffer.concat([Buffer.from('From mboxrd@z Thu Jan  1 00:00:00 1970\n'), Buffer.from(msg('a@x', 'J\xf6rg\n'), 'latin1')]);
    expect(splitMbox(latin1)[0]?.includes(Buffer.from([0x4a, 0xf6, 0x72, 0x67]))).toBe(true);
  });

  it('reads the committed fixture threads', () => {
    const ids = splitMbox(readFileSync(fixture('zswap-swapoff'))).map((m) => msgidsIn(rawHeaders(m).find(([k]) => k === 'message-id')?.[1])[0]);
    expect(ids).toHaveLength(13);
    expect(new Set(ids).size).toBe(13);
  });
});

describe('maybeGunzip', () => {
  it('inflates gzip and passes plain data through', () => {
    expect(maybeGunzip(gzipSync(Buffer.from('abc')), 'x').toString()).toBe('abc');
    expect(maybeGunzip(Buffer.from('abc'), 'x').toString()).toBe('abc');
  });
  it('names the source of a corrupt gzip', () => {
    const corrupt = Buffer.concat([gzipSync(Buffer.from('a'.repeat(1000))).subarray(0, 20), Buffer.from('garbage')]);
    expect(() => maybeGunzip(corrupt, 'the thread of <x@y>')).toThrow(InputError);
    expect(() => maybeGunzip(corrupt, 'the thread of <x@y>')).toThrow(/the thread of <x@y> is not a valid gzip/);
  });

  it('refuses a gzip that inflates past the cap (a bomb) as bad input, and inflates one just under it', () => {
    const bomb = gzipSync(Buffer.alloc(2 * 1024 * 1024));
    expect(bomb.length).toBeLessThan(10_000);
    expect(() => maybeGunzip(bomb, 'the thread of <x@y>', 1024 * 1024)).toThrow(/the thread of <x@y> inflates to more than 1 MiB/);
    expect(maybeGunzip(bomb, 'the thread of <x@y>', 2 * 1024 * 1024)).toHaveLength(2 * 1024 * 1024);
  });
});

describe('headers', () => {
  it('unfolds continuation lines and lowercases names', () => {
    const h = rawHeaders(Buffer.from('Subject: one\n two\nReferences: <a@x>\n\t<b@x>\n\nbody'));
    expect(h).toEqual([
      ['subject', 'one two'],
      ['references', '<a@x> <b@x>'],
    ]);
  });
  it('extracts message-ids with or without brackets', () => {
    expect(msgidsIn('<a@x> <b@y>')).toEqual(['a@x', 'b@y']);
    expect(msgidsIn('  bare@id ')).toEqual(['bare@id']);
    expect(msgidsIn('garbage')).toEqual([]);
  });
});
