import { InfraError, KharnessError, ExitCode, errorMessage, type ExitCodeValue } from './errors.js';

/**
 * Wraps a subcommand's action: a KharnessError prints its message (and hint) and exits with its
 * code; anything else is our bug or the environment's, so it is an infrastructure error (3).
 * The action returns the exit code it wants (0 or 1).
 */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<ExitCodeValue | void>) {
  return async (...args: A): Promise<void> => {
    try {
      const code = await fn(...args);
      process.exitCode = code ?? ExitCode.Ok;
    } catch (err) {
      const known = err instanceof KharnessError ? err : new InfraError(`internal error: ${errorMessage(err)}`);
      process.stderr.write(`kharness: ${known.message}\n`);
      if (known.hint) process.stderr.write(`  hint: ${known.hint}\n`);
      if (!(err instanceof KharnessError) && err instanceof Error && err.stack && process.env.KHARNESS_DEBUG) {
        process.stderr.write(`${err.stack}\n`);
      }
      process.exitCode = known.exitCode;
    }
  };
}

/** Parses a positive integer option or fails as bad usage. */
export function positiveInt(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n <= 0) throw new KharnessError(`${name} must be a positive integer, got "${value}"`, ExitCode.BadInput);
    return n;
  };
}
