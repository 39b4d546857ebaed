/**
 * Durations and sizes of the guest suite. `quick` keeps the whole suite within a few minutes
 * under TCG for CI; `soak` is for a maintainer's machine and runs the races for long.
 */
export interface SuiteProfile {
  name: string;
  cyclePages: number;
  cycleRounds: number;
  rejectPages: number;
  writebackPages: number;
  writebackRounds: number;
  /** memory.zswap.max of the writeback test's cgroup: small, so zswap must write back */
  writebackZswapMax: string;
  /** the writeback test's pages without memcg (variant nomemcg): past 1% of guest memory compressed */
  nomemcgWritebackPages: number;
  /**
   * how long, at most, that test keeps the pool full and the shrink worker queued when a round
   * ends with the limit hit and nothing written back yet (the worker rotates referenced entries
   * first, and under TCG may not have run enough): only a worker that never writes back waits it out
   */
  poolLimitWaitS: number;
  racePages: number;
  raceSeconds: number;
  raceThreads: number;
  /** cpu-hotplug: pages shared by its threads, and how long CPUs go offline and online */
  hotplugPages: number;
  hotplugSeconds: number;
  /** fault-race: pages every thread faults, its threads, and how long it runs */
  faultPages: number;
  faultThreads: number;
  faultSeconds: number;
  selftestTimeoutS: number;
  /** guest memory and CPUs */
  memory: string;
  cpus: number;
  /** swap disk size per device */
  swapMiB: number;
  /** host watchdog: whole-boot budget and console silence */
  budgetS: number;
  silenceS: number;
  /**
   * what sizes and durations are multiplied by on a KASAN kernel, which runs several times
   * slower under TCG: a quick profile keeps about its plain per-patch time (undefined: 1)
   */
  debugScale?: number;
}

export const PROFILES: Record<string, SuiteProfile> = {
  quick: {
    name: 'quick',
    cyclePages: 2048,
    cycleRounds: 2,
    rejectPages: 256,
    writebackPages: 2048,
    writebackRounds: 2,
    writebackZswapMax: '1M',
    nomemcgWritebackPages: 12288,
    poolLimitWaitS: 30,
    racePages: 1024,
    raceSeconds: 15,
    raceThreads: 2,
    hotplugPages: 1024,
    hotplugSeconds: 9,
    faultPages: 512,
    faultThreads: 4,
    faultSeconds: 6,
    selftestTimeoutS: 180,
    memory: '1G',
    cpus: 2,
    swapMiB: 256,
    budgetS: 600,
    silenceS: 90,
    debugScale: 0.5,
  },
  soak: {
    name: 'soak',
    cyclePages: 16384,
    cycleRounds: 8,
    rejectPages: 2048,
    writebackPages: 16384,
    writebackRounds: 6,
    writebackZswapMax: '4M',
    nomemcgWritebackPages: 32768,
    poolLimitWaitS: 120,
    racePages: 8192,
    raceSeconds: 1800,
    raceThreads: 4,
    hotplugPages: 8192,
    hotplugSeconds: 1200,
    faultPages: 4096,
    faultThreads: 8,
    faultSeconds: 1200,
    selftestTimeoutS: 900,
    memory: '2G',
    cpus: 4,
    swapMiB: 1024,
    budgetS: 3 * 3600,
    silenceS: 300,
  },
};

export const ALL_TESTS = ['swap-cycle', 'writeback', 'swapoff-race', 'cpu-hotplug', 'fault-race', 'selftest-zswap'] as const;
export type GuestTestName = (typeof ALL_TESTS)[number];

/**
 * The profile as a KASAN kernel runs it: page counts and durations scaled by debugScale (never
 * below what each test needs to mean anything: writeback still overfills its zswap limit, the
 * races still run for seconds). The budgets are scaled apart (budgetScale), by the slowdown.
 */
export function profileForKernel(p: SuiteProfile, kasan: boolean): SuiteProfile {
  const k = kasan ? (p.debugScale ?? 1) : 1;
  if (k === 1) return p;
  const pages = (n: number, min: number): number => Math.max(min, Math.round(n * k));
  const seconds = (n: number): number => Math.max(3, Math.round(n * k));
  return {
    ...p,
    cyclePages: pages(p.cyclePages, 256),
    rejectPages: pages(p.rejectPages, 64),
    writebackPages: pages(p.writebackPages, 1024),
    nomemcgWritebackPages: pages(p.nomemcgWritebackPages, 6144),
    racePages: pages(p.racePages, 256),
    raceSeconds: seconds(p.raceSeconds),
    hotplugPages: pages(p.hotplugPages, 256),
    hotplugSeconds: seconds(p.hotplugSeconds),
    faultPages: pages(p.faultPages, 128),
    faultSeconds: seconds(p.faultSeconds),
  };
}

/**
 * How often test_zswap runs again while a failed case has not passed once (suite.sh): a case that
 * fails and then passes is flaky, not the patch's failure; one that fails every time is.
 */
export const SELFTEST_RETRIES = 2;

export function profileEnv(p: SuiteProfile, overrides: { durationS?: number } = {}): Record<string, string> {
  return {
    CYCLE_PAGES: String(p.cyclePages),
    CYCLE_ROUNDS: String(p.cycleRounds),
    REJECT_PAGES: String(p.rejectPages),
    WRITEBACK_PAGES: String(p.writebackPages),
    WRITEBACK_ROUNDS: String(p.writebackRounds),
    WRITEBACK_ZSWAP_MAX: p.writebackZswapMax,
    NOMEMCG_WRITEBACK_PAGES: String(p.nomemcgWritebackPages),
    POOL_LIMIT_WAIT: String(p.poolLimitWaitS),
    RACE_PAGES: String(p.racePages),
    RACE_SECONDS: String(overrides.durationS ?? p.raceSeconds),
    RACE_THREADS: String(p.raceThreads),
    HOTPLUG_PAGES: String(p.hotplugPages),
    HOTPLUG_SECONDS: String(overrides.durationS ?? p.hotplugSeconds),
    FAULT_PAGES: String(p.faultPages),
    FAULT_THREADS: String(p.faultThreads),
    FAULT_SECONDS: String(overrides.durationS ?? p.faultSeconds),
    SELFTEST_TIMEOUT: String(p.selftestTimeoutS),
    SELFTEST_RETRIES: String(SELFTEST_RETRIES),
  };
}
