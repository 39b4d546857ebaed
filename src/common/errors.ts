/** Exit codes, documented in the README and `kharness --help`. */
export const ExitCode = {
  /** every patch passed every stage */
  Ok: 0,
  /** some patch failed (the kernel or the patch misbehaved) */
  PatchFailed: 1,
  /** bad usage or bad input (unreadable mbox, unknown message-id, missing patch, ...) */
  BadInput: 2,
  /** infrastructure error: our side or the environment broke (QEMU missing, disk full, ...) */
  Infrastructure: 3,
  /** interrupted by the user (Ctrl-C); the partial report is kept */
  Interrupted: 130,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** An error whose message is written for the user, with the exit code it maps to. */
export class KharnessError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCodeValue,
    readonly hint?: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** The input is wrong: the user can fix it. */
export class InputError extends KharnessError {
  constructor(message: string, hint?: string) {
    super(message, ExitCode.BadInput, hint);
  }
}

/** The environment or kharness itself broke: never the patch's fault. */
export class InfraError extends KharnessError {
  constructor(message: string, hint?: string) {
    super(message, ExitCode.Infrastructure, hint);
  }
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
