import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';

/**
 * Files the guest (or a patched tree) wrote are untrusted input: a symlink could point the host at
 * its own secrets, a huge or endless file could exhaust memory. Every such read goes through here:
 * no symlink is followed (O_NOFOLLOW on the file itself; the folder must be ours), only regular
 * files are read, and at most `maxBytes` of them.
 */
export type UntrustedRead =
  | { ok: true; text: string; truncated: boolean; bytes: number }
  | { ok: false; missing: boolean; reason: string };

export const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;

export async function readUntrusted(file: string, opts: { maxBytes?: number } = {}): Promise<UntrustedRead> {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  let fh;
  try {
    fh = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { ok: false, missing: true, reason: `${path.basename(file)} is missing` };
    if (code === 'ELOOP') return { ok: false, missing: false, reason: `${path.basename(file)} is a symbolic link (not followed)` };
    return { ok: false, missing: false, reason: `${path.basename(file)} cannot be read: ${(err as Error).message}` };
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) return { ok: false, missing: false, reason: `${path.basename(file)} is not a regular file` };
    const want = Math.min(st.size, maxBytes);
    const buf = Buffer.alloc(want);
    let got = 0;
    while (got < want) {
      const { bytesRead } = await fh.read(buf, got, want - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return { ok: true, text: buf.subarray(0, got).toString('utf8'), truncated: st.size > maxBytes, bytes: st.size };
  } finally {
    await fh.close();
  }
}

/** The text of an untrusted file, or undefined when it is missing or unreadable (the reason is dropped: use readUntrusted when it matters). */
export async function readUntrustedText(file: string, maxBytes?: number): Promise<string | undefined> {
  const r = await readUntrusted(file, { maxBytes });
  return r.ok ? r.text : undefined;
}
