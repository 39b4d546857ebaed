import { Listr, type ListrTaskWrapper } from 'listr2';
import { progressRenderer, type OutputOptions } from '../common/output.js';
import { spokenDuration } from '../build/progress.js';

/**
 * How the fold shows what it is doing. It only displays: the fold never waits on it for a
 * decision and nothing it does (or fails to do) changes a verdict.
 */
export interface Progress {
  stepStarted(index: number, title: string): void;
  output(index: number, text: string): void;
  stepDone(index: number, title: string): void;
  close(): Promise<void>;
}

export function makeProgress(opts: OutputOptions, titles: string[]): Progress {
  const renderer = progressRenderer(opts);
  if (renderer === 'silent') return { stepStarted() {}, output() {}, stepDone() {}, close: async () => undefined };
  if (renderer === 'simple') return new LineProgress();
  return new ListrProgress(titles);
}

/** Plain timestamped lines on stderr: logs, CI, pipes. */
class LineProgress implements Progress {
  private last = '';
  stepStarted(_i: number, title: string): void {
    this.line(`▶ ${title}`);
  }
  output(_i: number, text: string): void {
    if (text !== this.last) this.line(`  ${text}`);
    this.last = text;
  }
  stepDone(_i: number, title: string): void {
    this.line(`■ ${title}`);
  }
  async close(): Promise<void> {}
  private line(text: string): void {
    process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${text}\n`);
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type TaskView = ListrTaskWrapper<object, any, any>;

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
}
function deferred(): Deferred {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/**
 * listr2's task list as a pure view: each task just waits for the fold to finish its step, so a
 * task can neither fail nor skip anything (the reason listr must not drive the run: with
 * exitOnError off it swallowed stage exceptions and the run still reported "passed").
 */
class ListrProgress implements Progress {
  private tasks = new Map<number, TaskView>();
  private pending = new Map<number, { title?: string; output?: string }>();
  private done: Deferred[];
  private running: Promise<unknown>;

  constructor(titles: string[]) {
    this.done = titles.map(() => deferred());
    const list = new Listr<object>(
      titles.map((title, i) => ({
        title,
        task: async (_ctx: object, task: TaskView) => {
          this.tasks.set(i, task);
          const p = this.pending.get(i);
          if (p?.output) task.output = p.output;
          await this.done[i]!.promise;
          task.title = this.pending.get(i)?.title ?? task.title;
        },
        rendererOptions: { persistentOutput: true, outputBar: 3 },
      })),
      { exitOnError: false, registerSignalListeners: false, rendererOptions: { collapseSubtasks: false } } as never,
    );
    this.running = list.run().catch(() => undefined);
  }
  stepStarted(): void {}
  output(i: number, text: string): void {
    const t = this.tasks.get(i);
    if (t) t.output = text;
    this.pending.set(i, { ...this.pending.get(i), output: text });
  }
  stepDone(i: number, title: string): void {
    this.pending.set(i, { ...this.pending.get(i), title });
    this.done[i]?.resolve();
  }
  async close(): Promise<void> {
    for (const d of this.done) d.resolve();
    await this.running;
  }
}

/**
 * Which guest test is running and since when, from the suite's console marks, for a progress
 * line every PROGRESS_INTERVAL_MS during the guest tests (a soak test runs for minutes).
 */
export class GuestTestClock {
  private current?: { test: string; since: number };

  /** Notes a console mark: a start begins the clock, the test's end stops it. */
  mark(test: string, state: string, now: number): void {
    if (state === 'start') this.current = { test, since: now };
    else if (this.current?.test === test) this.current = undefined;
  }

  /** `test writeback: running for 1 min 05 s`, or undefined between tests. */
  line(now: number): string | undefined {
    return this.current ? `test ${this.current.test}: running for ${spokenDuration(now - this.current.since)}` : undefined;
  }
}
