// SPDX-License-Identifier: GPL-2.0
/*
 * kharness guest workload: page-exact zswap stress.
 *
 * Every page of a test region carries a stamp (magic, region, page index, version) and a body
 * derived from (page, version), so a read can tell exactly which page and which version it
 * holds. Pages are pushed to swap with MADV_PAGEOUT, read back, dropped (MADV_DONTNEED, munmap,
 * child exit) while swapped out, and the whole region survives swapoff/swapon cycles.
 *
 * Output: JSON lines on stdout. `{"ev":"bad",...}` names each wrong page; a data log of every
 * versioned write/read/discard goes to the file given by --log for the host's data oracle.
 *
 * Modes:
 *   cycle     write, page out, read back, drop, repeat over several swapoff/swapon cycles
 *   writeback pages pushed out under a tiny memory.zswap.max so zswap writes back to disk
 *   race      pageout/swapin/drop threads while another thread swapoffs/swapons the devices
 *   reject    incompressible pages: zswap rejects the store and the page goes to disk
 *   faultrace threads fault the same swapped-out pages at once, and race drops and a fork+exit
 *             (on zram: the swap-cache bypass of SWP_SYNCHRONOUS_IO devices)
 *   hotplug   pageout/swapin/drop threads on every CPU while another thread offlines and
 *             onlines the CPUs that can go (cpu1..N): the per-CPU compression contexts are
 *             torn down and rebuilt under traffic, and threads migrate as their CPU goes
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/swap.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

#define MAGIC 0x6b68617273737770ULL /* "kharsswp" */
#define PAGE 4096UL
#define WORDS (PAGE / sizeof(uint64_t))

struct region {
	const char *name;
	int id;
	uint64_t *mem;
	size_t pages;
	uint32_t *version;   /* last version written per page; 0 = never written / discarded */
	uint8_t *incompressible;
};

static FILE *data_log;
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long bad_pages;
static unsigned long max_bad_reports = 64;
static volatile sig_atomic_t stop_flag;
static double deadline;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void out(const char *fmt, ...)
{
	va_list ap;
	pthread_mutex_lock(&out_lock);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	pthread_mutex_unlock(&out_lock);
}

static void logd(const char *fmt, ...)
{
	va_list ap;
	if (!data_log)
		return;
	pthread_mutex_lock(&out_lock);
	va_start(ap, fmt);
	vfprintf(data_log, fmt, ap);
	va_end(ap);
	fputc('\n', data_log);
	pthread_mutex_unlock(&out_lock);
}

static void die(const char *what)
{
	out("{\"ev\":\"error\",\"what\":\"%s\",\"errno\":%d,\"msg\":\"%s\"}", what, errno, strerror(errno));
	exit(3);
}

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

/*
 * Body word i of (region, page, version). Compressible pages repeat one value with a small
 * period so lzo shrinks them well below PAGE_SIZE (zswap stores them); incompressible pages are
 * pseudo-random so compression fails and zswap must reject the store.
 */
static uint64_t body_word(const struct region *r, size_t page, uint32_t version, size_t i, bool incompressible)
{
	uint64_t seed = ((uint64_t)r->id << 56) ^ ((uint64_t)page << 20) ^ version;
	/* a quarter of a compressible page is noise: lzo gets it to about 1.2 KiB, so the pool
	 * grows the way real anonymous memory makes it grow, and memory.zswap.max is reachable */
	if (incompressible || i < WORDS / 4)
		return mix(seed * 0x9e3779b97f4a7c15ULL + i);
	return mix(seed) + (i & 7);
}

static void write_page(struct region *r, size_t page, uint32_t version)
{
	uint64_t *p = r->mem + page * WORDS;
	bool inc = r->incompressible[page];
	p[0] = MAGIC;
	p[1] = r->id;
	p[2] = page;
	p[3] = version;
	for (size_t i = 4; i < WORDS; i++)
		p[i] = body_word(r, page, version, i, inc);
	r->version[page] = version;
	logd("w %s %zu %u", r->name, page, version);
}

/*
 * Whether page holds version want (0: zeroes, a page dropped while swapped out); fills in what
 * it held instead.
 */
static bool page_matches(const struct region *r, size_t page, uint32_t want, long *seen_version, long *seen_page, size_t *first_bad)
{
	const uint64_t *p = r->mem + page * WORDS;
	bool inc = r->incompressible[page];
	*seen_page = -1;
	*seen_version = -1;
	*first_bad = 0;
	if (p[0] == MAGIC) {
		*seen_page = (long)p[2];
		*seen_version = (long)p[3];
	}
	if (want == 0) {
		for (size_t i = 0; i < WORDS; i++)
			if (p[i]) {
				*first_bad = i;
				return false;
			}
		return true;
	}
	if (!(p[0] == MAGIC && p[1] == (uint64_t)r->id && p[2] == page && p[3] == want))
		return false;
	for (size_t i = 4; i < WORDS; i++)
		if (p[i] != body_word(r, page, want, i, inc)) {
			*first_bad = i;
			return false;
		}
	return true;
}

static void report_bad(const struct region *r, size_t page, const char *phase, uint32_t want, long seen_version, long seen_page, size_t first_bad)
{
	const uint64_t *p = r->mem + page * WORDS;
	pthread_mutex_lock(&out_lock);
	bad_pages++;
	bool report = bad_pages <= max_bad_reports;
	pthread_mutex_unlock(&out_lock);
	if (report)
		out("{\"ev\":\"bad\",\"phase\":\"%s\",\"region\":\"%s\",\"page\":%zu,\"addr\":\"%p\","
		    "\"expect_version\":%u,\"seen_version\":%ld,\"seen_page\":%ld,\"first_bad_word\":%zu,"
		    "\"word0\":\"0x%016" PRIx64 "\",\"zero\":%s}",
		    phase, r->name, page, (void *)p, want, seen_version, seen_page, first_bad, p[0],
		    (p[0] == 0 && p[WORDS - 1] == 0) ? "true" : "false");
}

/* Checks one page against the version last written; reports exactly what the page held. */
static bool check_page(struct region *r, size_t page, const char *phase)
{
	long seen_version, seen_page;
	size_t first_bad;
	uint32_t want = r->version[page];
	bool ok = page_matches(r, page, want, &seen_version, &seen_page, &first_bad);
	logd("r %s %zu %ld %ld %d", r->name, page, seen_version < 0 ? 0 : seen_version, seen_page, ok ? 0 : 1);
	if (!ok)
		report_bad(r, page, phase, want, seen_version, seen_page, first_bad);
	return ok;
}

/*
 * A read racing a drop of the same page: the version written, or zeroes, is right. The drop can
 * land mid-read (the rest of the read then faults in a zero page), so what is right is the
 * version's words up to some point and zeroes after it, nothing else. Not in the data log: the
 * log's order could not say which it was.
 */
static bool check_page_or_zero(struct region *r, size_t page, uint32_t want, const char *phase)
{
	static __thread uint64_t copy[WORDS];
	const uint64_t *p = r->mem + page * WORDS;
	bool inc = r->incompressible[page];
	memcpy(copy, p, PAGE);
	size_t k = 0;
	for (; k < WORDS; k++) {
		uint64_t expect = k == 0 ? MAGIC : k == 1 ? (uint64_t)r->id : k == 2 ? page : k == 3 ? want : body_word(r, page, want, k, inc);
		if (copy[k] != expect)
			break;
	}
	size_t first_bad = k;
	for (; k < WORDS; k++)
		if (copy[k] != 0)
			break;
	if (k == WORDS)
		return true;
	report_bad(r, page, phase, want, copy[0] == MAGIC ? (long)copy[3] : -1, copy[0] == MAGIC ? (long)copy[2] : -1, first_bad);
	return false;
}

static void region_init(struct region *r, const char *name, int id, size_t pages, unsigned incompressible_every)
{
	r->name = name;
	r->id = id;
	r->pages = pages;
	r->mem = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r->mem == MAP_FAILED)
		die("mmap");
	/* no transparent huge pages: zswap in 6.12 stores only order-0 folios */
	madvise(r->mem, pages * PAGE, MADV_NOHUGEPAGE);
	/* only test pages may be swapped: everything else of ours stays locked (see main) */
	munlock(r->mem, pages * PAGE);
	r->version = calloc(pages, sizeof(*r->version));
	r->incompressible = calloc(pages, 1);
	if (!r->version || !r->incompressible)
		die("calloc");
	for (size_t i = 0; incompressible_every && i < pages; i++)
		r->incompressible[i] = (i % incompressible_every) == incompressible_every - 1;
}

static void region_unmap(struct region *r)
{
	munmap(r->mem, r->pages * PAGE);
	for (size_t i = 0; i < r->pages; i++)
		if (r->version[i])
			logd("d %s %zu", r->name, i);
	r->mem = NULL;
}

/* Counts pages of the range that are in swap right now, from /proc/self/pagemap (bit 62). */
static long swapped_pages(struct region *r, size_t first, size_t count)
{
	int fd = open("/proc/self/pagemap", O_RDONLY);
	long n = 0;
	if (fd < 0)
		return -1;
	uint64_t *ents = malloc(count * sizeof(uint64_t));
	if (!ents) {
		close(fd);
		return -1;
	}
	off_t off = (off_t)(((uintptr_t)r->mem / PAGE) + first) * 8;
	if (pread(fd, ents, count * 8, off) == (ssize_t)(count * 8))
		for (size_t i = 0; i < count; i++)
			n += (ents[i] >> 62) & 1;
	else
		n = -1;
	free(ents);
	close(fd);
	return n;
}

static long pageout(struct region *r, size_t first, size_t count)
{
	if (madvise(r->mem + first * WORDS, count * PAGE, MADV_PAGEOUT))
		die("madvise(MADV_PAGEOUT)");
	return swapped_pages(r, first, count);
}

static void dontneed(struct region *r, size_t first, size_t count)
{
	if (madvise(r->mem + first * WORDS, count * PAGE, MADV_DONTNEED))
		die("madvise(MADV_DONTNEED)");
	for (size_t i = first; i < first + count; i++) {
		if (r->version[i])
			logd("d %s %zu", r->name, i);
		r->version[i] = 0;
	}
}

static unsigned long check_range(struct region *r, size_t first, size_t count, const char *phase)
{
	unsigned long bad = 0;
	for (size_t i = first; i < first + count; i++)
		bad += !check_page(r, i, phase);
	return bad;
}

static void write_range(struct region *r, size_t first, size_t count, uint32_t version)
{
	for (size_t i = first; i < first + count; i++)
		write_page(r, i, version);
}

static int swap_toggle(const char *dev, bool on)
{
	int rc = on ? swapon(dev, 0) : swapoff(dev);
	return rc ? -errno : 0;
}

/* ---- options ---------------------------------------------------------------------------- */
struct opts {
	const char *mode;
	size_t pages;
	int rounds;
	double seconds;
	const char *devs[4];
	int ndevs;
	const char *log;
	unsigned incompressible_every;
	int threads;
	const char *cgroup;
	double limit_wait;
};

/*
 * A child process that writes its own pages, pushes them to swap and exits without reading
 * them: its exit must invalidate every one of its zswap entries.
 */
static void child_exit_invalidate(size_t pages, int id)
{
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		struct region c;
		data_log = NULL;
		region_init(&c, "child", id, pages, 0);
		write_range(&c, 0, pages, 1);
		long sw = pageout(&c, 0, pages);
		out("{\"ev\":\"child-pageout\",\"pages\":%zu,\"swapped\":%ld}", pages, sw);
		_exit(0);
	}
	int status;
	waitpid(pid, &status, 0);
}

/* cycle: the lifetime paths one after another, then swapoff/swapon with live entries. */
static int mode_cycle(struct opts *o)
{
	struct region r;
	uint32_t v = 0;
	unsigned long bad = 0;
	size_t n = o->pages, q = n / 4;

	region_init(&r, "cycle", 1, n, o->incompressible_every);
	for (int round = 1; round <= o->rounds; round++) {
		write_range(&r, 0, n, ++v);
		long sw = pageout(&r, 0, n);
		out("{\"ev\":\"pageout\",\"round\":%d,\"pages\":%zu,\"swapped\":%ld}", round, n, sw);
		/* swapin: the first quarter is read back (zswap load) */
		bad += check_range(&r, 0, q, "swapin");
		/* invalidate: the second quarter is dropped while swapped out */
		dontneed(&r, q, q);
		/* redirty: the third quarter gets a new version, then goes out again over old slots */
		write_range(&r, 2 * q, q, ++v);
		pageout(&r, 0, n);
		/* process exit with pages in zswap */
		child_exit_invalidate(q ? q : 1, 100 + round);
		/*
		 * swapoff with live entries, one device at a time: try_to_unuse pulls that device's
		 * pages back in while the others stay in use. Turning a device back on gives it the
		 * lowest priority, so the next round swaps to another device (another swap type).
		 */
		for (int d = 0; d < o->ndevs; d++) {
			long before = swapped_pages(&r, 0, n);
			int rc = swap_toggle(o->devs[d], false);
			out("{\"ev\":\"swapoff\",\"round\":%d,\"dev\":\"%s\",\"rc\":%d,\"swapped_before\":%ld}", round, o->devs[d], rc,
			    before);
			if (rc)
				return 3;
			bad += check_range(&r, 0, n, "after-swapoff");
			rc = swap_toggle(o->devs[d], true);
			out("{\"ev\":\"swapon\",\"round\":%d,\"dev\":\"%s\",\"rc\":%d}", round, o->devs[d], rc);
			if (rc)
				return 3;
			/* out again, so the next device's swapoff also finds live entries */
			pageout(&r, 0, n);
		}
		/* the dropped quarter comes back with data again for the next round */
		write_range(&r, q, q, ++v);
		pageout(&r, 0, n);
		bad += check_range(&r, 0, n, "swapin-after-swapon");
	}
	/* munmap of a region that is in swap */
	pageout(&r, 0, n);
	region_unmap(&r);
	out("{\"ev\":\"done\",\"mode\":\"cycle\",\"bad\":%lu}", bad);
	return bad ? 1 : 0;
}

/* Proactive reclaim of our own cgroup: unmapped clean swap-cache folios go first. */
static void drop_swap_cache(const char *cgroup)
{
	char path[512];
	if (!cgroup)
		return;
	snprintf(path, sizeof(path), "%s/memory.reclaim", cgroup);
	for (int i = 0; i < 3; i++) {
		int fd = open(path, O_WRONLY);
		if (fd < 0)
			return;
		/* EAGAIN when less could be reclaimed than asked: fine, we take what there is */
		if (write(fd, "256M", 4) < 0 && errno != EAGAIN) {
			close(fd);
			return;
		}
		close(fd);
	}
}

/* A zswap debugfs counter, or -1 when this kernel has no such file. */
static long zswap_debug_counter(const char *name)
{
	char path[128];
	long v = -1;
	snprintf(path, sizeof(path), "/sys/kernel/debug/zswap/%s", name);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%ld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

/* Pages zswap has written back so far: its debugfs count, else the 6.8+ vm event. */
static long zswap_written_back(void)
{
	long v = zswap_debug_counter("written_back_pages");
	if (v >= 0)
		return v;
	FILE *f = fopen("/proc/vmstat", "r");
	char key[64];
	unsigned long n;
	if (!f)
		return -1;
	while (fscanf(f, "%63s %lu", key, &n) == 2)
		if (!strcmp(key, "zswpwb")) {
			v = (long)n;
			break;
		}
	fclose(f);
	return v;
}

struct limit_wait {
	long hit0, wb0; /* the counters when the test started */
	double budget_s; /* what is left of --limit-wait */
	struct region poke;
	uint32_t v;
};

/*
 * Over its pool limit zswap rejects stores and queues shrink_worker, which gives each LRU entry
 * a second chance (a referenced entry is rotated, not written back) and gives up after a few
 * rotations in a row. Under TCG the worker can run too seldom in a round to get past the
 * referenced entries, so a correct kernel may end a round having written nothing back. While
 * that is so, keep the pool full and the worker queued (rejected stores of a small region),
 * pausing so it runs, until something is written back or the wait is spent. A worker that
 * cannot write back at all still writes nothing, and the host fails it.
 */
static void wait_for_limit_writeback(struct limit_wait *w, int round)
{
	long hit = zswap_debug_counter("pool_limit_hit"), wb = zswap_written_back();
	if (w->budget_s <= 0 || hit < 0 || wb < 0 || hit <= w->hit0 || wb > w->wb0)
		return;
	double t0 = now(), waited = 0;
	unsigned long pokes = 0;
	while (wb <= w->wb0 && waited < w->budget_s) {
		write_range(&w->poke, 0, w->poke.pages, ++w->v);
		pageout(&w->poke, 0, w->poke.pages);
		pokes++;
		usleep(5000);
		wb = zswap_written_back();
		waited = now() - t0;
	}
	w->budget_s -= waited;
	out("{\"ev\":\"limit-wait\",\"round\":%d,\"ms\":%ld,\"pokes\":%lu,\"written_back\":%ld}", round,
	    (long)(waited * 1000), pokes, wb - w->wb0);
}

/*
 * writeback: the caller put us in a memcg with a tiny memory.zswap.max, or shrank the global
 * pool limit (--limit-wait then gives the shrink worker time); zswap must write back.
 */
static int mode_writeback(struct opts *o)
{
	struct region r;
	unsigned long bad = 0;
	uint32_t v = 0;
	struct limit_wait w = { .hit0 = zswap_debug_counter("pool_limit_hit"), .wb0 = zswap_written_back(),
				.budget_s = o->limit_wait };
	region_init(&r, "writeback", 2, o->pages, 0);
	region_init(&w.poke, "writeback-poke", 4, 64, 0);
	for (int round = 1; round <= o->rounds; round++) {
		write_range(&r, 0, o->pages, ++v);
		long sw = pageout(&r, 0, o->pages);
		out("{\"ev\":\"pageout\",\"round\":%d,\"pages\":%zu,\"swapped\":%ld}", round, o->pages, sw);
		/* give the shrinker a second pass: entries lose their referenced bit on the first */
		pageout(&r, 0, o->pages);
		wait_for_limit_writeback(&w, round);
		/*
		 * Drop the clean swap-cache folios writeback left behind, so the read-back below comes
		 * from the disk and proves the written-back data really got there.
		 */
		drop_swap_cache(o->cgroup);
		bad += check_range(&r, 0, o->pages, "readback");
	}
	bad += check_range(&w.poke, 0, w.poke.pages, "readback");
	region_unmap(&w.poke);
	region_unmap(&r);
	out("{\"ev\":\"done\",\"mode\":\"writeback\",\"bad\":%lu}", bad);
	return bad ? 1 : 0;
}

/* reject: incompressible pages cannot be stored; they must come back intact from disk. */
static int mode_reject(struct opts *o)
{
	struct region r;
	unsigned long bad = 0;
	uint32_t v = 0;
	region_init(&r, "reject", 3, o->pages, 2);
	for (int round = 1; round <= o->rounds; round++) {
		write_range(&r, 0, o->pages, ++v);
		long sw = pageout(&r, 0, o->pages);
		out("{\"ev\":\"pageout\",\"round\":%d,\"pages\":%zu,\"swapped\":%ld}", round, o->pages, sw);
		bad += check_range(&r, 0, o->pages, "readback");
		/* now the same slots' pages flip compressibility: stores over slots that held the other kind */
		for (size_t i = 0; i < r.pages; i++)
			r.incompressible[i] ^= 1;
	}
	region_unmap(&r);
	out("{\"ev\":\"done\",\"mode\":\"reject\",\"bad\":%lu}", bad);
	return bad ? 1 : 0;
}

/* ---- race ------------------------------------------------------------------------------ */
struct worker {
	pthread_t tid;
	int id;
	struct opts *o;
	struct region r;
	unsigned long bad;
	unsigned long iterations;
	pthread_mutex_t lock; /* held while the worker's pages are inconsistent with version[] */
};

static void *race_worker(void *arg)
{
	struct worker *w = arg;
	uint32_t v = 0;
	size_t n = w->r.pages, h = n / 2;
	while (!stop_flag && now() < deadline) {
		pthread_mutex_lock(&w->lock);
		write_range(&w->r, 0, n, ++v);
		pageout(&w->r, 0, n);
		w->bad += check_range(&w->r, 0, h, "race-swapin");
		dontneed(&w->r, h, n - h);
		write_range(&w->r, h, n - h, ++v);
		pageout(&w->r, 0, n);
		w->bad += check_range(&w->r, 0, n, "race-readback");
		pthread_mutex_unlock(&w->lock);
		w->iterations++;
	}
	return NULL;
}

/* Starts the page-exact workers of race and hotplug; each owns o->pages / n pages. */
static struct worker *start_workers(struct opts *o, int nw, const char *prefix, int first_id)
{
	struct worker *ws = calloc(nw, sizeof(*ws));
	if (!ws)
		die("calloc");
	for (int i = 0; i < nw; i++) {
		ws[i].id = i;
		ws[i].o = o;
		pthread_mutex_init(&ws[i].lock, NULL);
		char *name;
		if (asprintf(&name, "%s%d", prefix, i) < 0)
			die("asprintf");
		region_init(&ws[i].r, name, first_id + i, o->pages / nw, 0);
		if (pthread_create(&ws[i].tid, NULL, race_worker, &ws[i]))
			die("pthread_create");
	}
	return ws;
}

/* Checks every worker's pages, each held at a consistent point. */
static unsigned long check_workers(struct worker *ws, int nw, const char *phase)
{
	unsigned long bad = 0;
	for (int i = 0; i < nw; i++) {
		pthread_mutex_lock(&ws[i].lock);
		bad += check_range(&ws[i].r, 0, ws[i].r.pages, phase);
		pthread_mutex_unlock(&ws[i].lock);
	}
	return bad;
}

/* Stops and joins the workers; adds up their wrong pages and iterations. */
static unsigned long stop_workers(struct worker *ws, int nw, unsigned long *iterations)
{
	unsigned long bad = 0;
	stop_flag = 1;
	*iterations = 0;
	for (int i = 0; i < nw; i++) {
		pthread_join(ws[i].tid, NULL);
		bad += ws[i].bad;
		*iterations += ws[i].iterations;
		region_unmap(&ws[i].r);
	}
	free(ws);
	return bad;
}

static int mode_race(struct opts *o)
{
	int nw = o->threads > 0 ? o->threads : 2;
	unsigned long bad = 0, cycles = 0, swapoff_fail = 0, iters;
	deadline = now() + o->seconds;
	struct worker *ws = start_workers(o, nw, "race", 10);
	/* this thread: swapoff/swapon each device in turn while the workers page in and out */
	while (now() < deadline) {
		for (int d = 0; d < o->ndevs && now() < deadline; d++) {
			int rc = swap_toggle(o->devs[d], false);
			if (rc) {
				swapoff_fail++;
				out("{\"ev\":\"swapoff\",\"dev\":\"%s\",\"rc\":%d}", o->devs[d], rc);
			}
			/* data checked after every cycle, with the workers held at a consistent point */
			bad += check_workers(ws, nw, "race-after-swapoff");
			rc = swap_toggle(o->devs[d], true);
			if (rc) {
				out("{\"ev\":\"swapon\",\"dev\":\"%s\",\"rc\":%d}", o->devs[d], rc);
				stop_flag = 1;
				break;
			}
			cycles++;
			out("{\"ev\":\"race-cycle\",\"n\":%lu}", cycles);
		}
		if (stop_flag)
			break;
	}
	bad += stop_workers(ws, nw, &iters);
	out("{\"ev\":\"done\",\"mode\":\"race\",\"bad\":%lu,\"cycles\":%lu,\"iterations\":%lu,\"swapoff_failures\":%lu}", bad,
	    cycles, iters, swapoff_fail);
	return bad ? 1 : 0;
}

/* ---- hotplug ---------------------------------------------------------------------------- */

/* zswpout + zswpin from /proc/vmstat: moving while a CPU went and came back = traffic in flight. */
static unsigned long zswap_traffic(void)
{
	FILE *f = fopen("/proc/vmstat", "r");
	char key[64];
	unsigned long v, sum = 0;
	if (!f)
		return 0;
	while (fscanf(f, "%63s %lu", key, &v) == 2)
		if (!strcmp(key, "zswpout") || !strcmp(key, "zswpin"))
			sum += v;
	fclose(f);
	return sum;
}

static int cpu_set_online(int cpu, bool on)
{
	char path[96];
	snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/online", cpu);
	int fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	int rc = write(fd, on ? "1" : "0", 1) == 1 ? 0 : -errno;
	close(fd);
	return rc;
}

/* CPUs that can be offlined: those with an `online` file (cpu0 usually has none). */
static int hotpluggable_cpus(int *cpus, int max)
{
	int n = 0;
	for (int cpu = 1; cpu < 64 && n < max; cpu++) {
		char path[96];
		snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/online", cpu);
		if (access(path, W_OK) == 0)
			cpus[n++] = cpu;
	}
	return n;
}

static int mode_hotplug(struct opts *o)
{
	int cpus[64], ncpu = hotpluggable_cpus(cpus, 64);
	if (ncpu == 0) {
		out("{\"ev\":\"skip\",\"reason\":\"no CPU of this guest can go offline\"}");
		return 4;
	}
	/* a thread per CPU and one more, so a thread always has to move when its CPU goes */
	int nw = o->threads > 0 ? o->threads : ncpu + 2;
	unsigned long bad = 0, cycles = 0, in_flight = 0, offline_failures = 0, iters;
	bool online_failed = false;
	deadline = now() + o->seconds;
	struct worker *ws = start_workers(o, nw, "hotplug", 20);
	while (now() < deadline && !stop_flag) {
		for (int c = 0; c < ncpu && now() < deadline; c++) {
			unsigned long before = zswap_traffic();
			double t0 = now();
			int rc = cpu_set_online(cpus[c], false);
			if (rc) {
				/* the kernel may refuse (EBUSY): that cycle did not happen, and is not counted */
				offline_failures++;
				out("{\"ev\":\"cpu-offline\",\"cpu\":%d,\"rc\":%d}", cpus[c], rc);
				continue;
			}
			double t1 = now();
			usleep(20000);
			rc = cpu_set_online(cpus[c], true);
			if (rc) {
				/* a CPU that cannot come back leaves the guest smaller: stop, say so */
				out("{\"ev\":\"cpu-online\",\"cpu\":%d,\"rc\":%d}", cpus[c], rc);
				stop_flag = 1;
				online_failed = true;
				break;
			}
			bool moved = zswap_traffic() != before;
			cycles++;
			in_flight += moved;
			out("{\"ev\":\"hotplug-cycle\",\"cpu\":%d,\"n\":%lu,\"in_flight\":%s,\"offline_ms\":%.0f,\"online_ms\":%.0f}", cpus[c],
			    cycles, moved ? "true" : "false", (t1 - t0) * 1e3, (now() - t1) * 1e3);
			/*
			 * All the data, with the workers held at a consistent point, every few cycles (the
			 * workers check their own pages all along): holding them every cycle would leave
			 * no traffic in flight for the next one.
			 */
			if (cycles % 4 == 0)
				bad += check_workers(ws, nw, "hotplug-after-online");
		}
	}
	bad += check_workers(ws, nw, "hotplug-end");
	bad += stop_workers(ws, nw, &iters);
	out("{\"ev\":\"done\",\"mode\":\"hotplug\",\"bad\":%lu,\"cycles\":%lu,\"in_flight\":%lu,\"iterations\":%lu,\"offline_failures\":%lu}",
	    bad, cycles, in_flight, iters, offline_failures);
	if (bad)
		return 1;
	/* 3 without an error event: the kernel's (a CPU that does not come back online) */
	return online_failed ? 3 : 0;
}

/* ---- faultrace -------------------------------------------------------------------------- */
/*
 * Threads fault the same swapped-out pages at once. On a SWP_SYNCHRONOUS_IO device (zram) a
 * single-mapped page is swapped in without the swap cache, and every racing fault allocates
 * its own folio and loads from zswap: only one may win, and no page may come back with another
 * version. Then faults race MADV_DONTNEED of the same pages (a read sees the version or zeroes,
 * nothing else), and a forked child faults the pages (now mapped twice, through the swap cache)
 * and exits while the parent's threads fault them too.
 */
struct fault_race {
	struct region r;
	pthread_barrier_t start, done;
	int phase; /* 0: stop; 1: every thread reads every page; 2: readers against droppers */
	uint32_t version;
	unsigned long bad;
};

struct fault_thread {
	pthread_t tid;
	int id;
	struct fault_race *fr;
};

static unsigned long fault_phase(struct fault_race *fr, int id)
{
	size_t n = fr->r.pages;
	unsigned long bad = 0;
	if (fr->phase == 1) {
		/* the same order in every thread: they collide on each swap entry */
		for (size_t i = 0; i < n; i++)
			bad += !check_page(&fr->r, i, "fault-race-shared");
		return bad;
	}
	for (size_t i = 0; i < n; i += 8) {
		size_t c = i + 8 <= n ? 8 : n - i;
		if (id % 2)
			madvise(fr->r.mem + i * WORDS, c * PAGE, MADV_DONTNEED);
		else
			for (size_t k = i; k < i + c; k++)
				bad += !check_page_or_zero(&fr->r, k, fr->version, "fault-vs-drop");
	}
	return bad;
}

static void *fault_worker(void *arg)
{
	struct fault_thread *t = arg;
	for (;;) {
		pthread_barrier_wait(&t->fr->start);
		if (t->fr->phase == 0)
			return NULL;
		unsigned long bad = fault_phase(t->fr, t->id);
		__atomic_add_fetch(&t->fr->bad, bad, __ATOMIC_RELAXED);
		pthread_barrier_wait(&t->fr->done);
	}
}

static void fault_run_phase(struct fault_race *fr, int phase)
{
	fr->phase = phase;
	pthread_barrier_wait(&fr->start);
	if (phase)
		pthread_barrier_wait(&fr->done);
}

/* A child that faults half the pages (mapped twice now: through the swap cache) and exits. */
static pid_t fault_child(struct fault_race *fr)
{
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		data_log = NULL;
		unsigned long bad = 0;
		for (size_t i = 0; i < fr->r.pages; i += 2)
			bad += !check_page(&fr->r, i, "fault-race-child");
		_exit(bad ? 1 : 0);
	}
	return pid;
}

static int mode_faultrace(struct opts *o)
{
	struct fault_race fr = { 0 };
	int nt = o->threads > 1 ? o->threads : 4;
	struct fault_thread *ts = calloc(nt, sizeof(*ts));
	unsigned long rounds = 0, child_bad = 0;
	if (!ts)
		die("calloc");
	region_init(&fr.r, "faultrace", 30, o->pages, 0);
	pthread_barrier_init(&fr.start, NULL, nt + 1);
	pthread_barrier_init(&fr.done, NULL, nt + 1);
	for (int i = 0; i < nt; i++) {
		ts[i].id = i;
		ts[i].fr = &fr;
		if (pthread_create(&ts[i].tid, NULL, fault_worker, &ts[i]))
			die("pthread_create");
	}
	deadline = now() + o->seconds;
	while (now() < deadline || rounds == 0) {
		size_t n = fr.r.pages;
		write_range(&fr.r, 0, n, fr.version = 2 * rounds + 1);
		pageout(&fr.r, 0, n);
		fault_run_phase(&fr, 1);
		pageout(&fr.r, 0, n);
		fault_run_phase(&fr, 2);
		/* what the droppers left is dropped for good: the data log says so */
		dontneed(&fr.r, 0, n);
		write_range(&fr.r, 0, n, fr.version = 2 * rounds + 2);
		pageout(&fr.r, 0, n);
		pid_t child = fault_child(&fr);
		fault_run_phase(&fr, 1);
		int status;
		waitpid(child, &status, 0);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			child_bad++;
			out("{\"ev\":\"child-failed\",\"round\":%lu,\"status\":%d}", rounds + 1, status);
		}
		rounds++;
		out("{\"ev\":\"fault-race-round\",\"n\":%lu}", rounds);
	}
	fault_run_phase(&fr, 0);
	for (int i = 0; i < nt; i++)
		pthread_join(ts[i].tid, NULL);
	free(ts);
	region_unmap(&fr.r);
	unsigned long bad = fr.bad + child_bad;
	out("{\"ev\":\"done\",\"mode\":\"faultrace\",\"bad\":%lu,\"rounds\":%lu,\"threads\":%d}", bad, rounds, nt);
	return bad ? 1 : 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: zswap-stress MODE [--pages N] [--rounds R] [--seconds S] [--dev DEV]... [--log FILE]\n"
		"                     [--incompressible-every K] [--threads T] [--cgroup DIR] [--limit-wait S]\n"
		"modes: cycle writeback reject race hotplug faultrace\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct opts o = { .pages = 1024, .rounds = 3, .seconds = 20, .incompressible_every = 0, .threads = 2 };
	if (argc < 2)
		usage();
	o.mode = argv[1];
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v)
			usage();
		if (!strcmp(a, "--pages"))
			o.pages = strtoul(v, NULL, 0);
		else if (!strcmp(a, "--rounds"))
			o.rounds = atoi(v);
		else if (!strcmp(a, "--seconds"))
			o.seconds = atof(v);
		else if (!strcmp(a, "--dev") && o.ndevs < 4)
			o.devs[o.ndevs++] = v;
		else if (!strcmp(a, "--log"))
			o.log = v;
		else if (!strcmp(a, "--incompressible-every"))
			o.incompressible_every = strtoul(v, NULL, 0);
		else if (!strcmp(a, "--threads"))
			o.threads = atoi(v);
		else if (!strcmp(a, "--cgroup"))
			o.cgroup = v;
		else if (!strcmp(a, "--limit-wait"))
			o.limit_wait = atof(v);
		else
			usage();
		i++;
	}
	if (o.pages < 8)
		o.pages = 8;
	/*
	 * Lock the workload itself (code, stack, heap, the version bookkeeping) so a kernel that
	 * loses swapped data corrupts test pages, which we check and name, and not our own state,
	 * which would only crash us. Test regions are unlocked as they are mapped.
	 */
	if (mlockall(MCL_CURRENT | MCL_FUTURE))
		out("{\"ev\":\"warning\",\"what\":\"mlockall\",\"errno\":%d}", errno);
	if (o.log) {
		data_log = fopen(o.log, "w");
		if (!data_log)
			die("fopen(--log)");
		setvbuf(data_log, NULL, _IOFBF, 1 << 16);
	}
	int rc;
	if (!strcmp(o.mode, "cycle"))
		rc = mode_cycle(&o);
	else if (!strcmp(o.mode, "writeback"))
		rc = mode_writeback(&o);
	else if (!strcmp(o.mode, "reject"))
		rc = mode_reject(&o);
	else if (!strcmp(o.mode, "race"))
		rc = mode_race(&o);
	else if (!strcmp(o.mode, "hotplug"))
		rc = mode_hotplug(&o);
	else if (!strcmp(o.mode, "faultrace"))
		rc = mode_faultrace(&o);
	else
		usage();
	if (data_log)
		fclose(data_log);
	return rc;
}
