import { describe, expect, it } from 'vitest';
import { InputError } from '../../../src/common/errors.js';
import { openTreeArg } from '../../../src/tree/managed.js';

describe('--tree naming a managed tree', () => {
  it('refuses a managed tree that does not exist as bad input, from setup.sh’s own check', async () => {
    const err = await openTreeArg('debian-9.9').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toMatch(/there is no managed tree debian-9\.9/);
  });
});
