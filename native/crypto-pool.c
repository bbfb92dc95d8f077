/*
 * wgts native addon: the fork-join pool of native/crypto-pool.h. A batch is cut into contiguous
 * chunks that shrink as it is used up (guided self-scheduling); the caller wakes the workers it
 * wants, then every thread claims chunks from one atomic counter until none is left. Each worker
 * sleeps on its own condition variable, so a batch wakes only the workers it needs. When the
 * caller runs out of chunks it withdraws the wake-up of any worker that has not started yet (on a
 * busy machine the kernel often queues the woken worker behind the caller on the caller's CPU),
 * then waits only for the workers inside a chunk, spinning briefly before it sleeps. The mutex
 * orders the batch's arguments before a worker reads them; the release of a worker's `pending`
 * decrement and the caller's acquire order every write the worker did before the call returns.
 * Threads are libuv's (uv_thread_create, exported by the node binary): glibc 2.34 moved
 * pthread_create into libc under a new symbol version, which a prebuilt addon must not require
 * (test/package/prebuilds). The pool counts the wake-ups it sends and the time its workers spend
 * on chunks, which the thread gate (src/device/thread-gate.ts) reads to tell how much CPU the
 * workers would give back.
 */
#include "crypto-pool.h"

#include <errno.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <uv.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

/* A pause in a spin loop (kinder to a sibling hyper-thread and to the memory bus). */
static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

typedef struct worker {
  uv_thread_t tid;
  pthread_cond_t wake;
  struct wgts_pool *pool;
  unsigned thread; /* 1.. (0 is the caller) */
  bool has_job;    /* woken for the current batch and not started yet */
} worker;

struct wgts_pool {
  pthread_mutex_t lock;
  pthread_cond_t done;
  bool stop;
  unsigned n_workers;
  worker workers[WGTS_POOL_MAX - 1];
  /* The current batch: set by the caller under the lock before any worker is woken. */
  wgts_pool_fn fn;
  wgts_pool_done_fn done_fn;
  void *task;
  uint32_t first, count, threads;
  atomic_uint next; /* the first entry not yet claimed (0 = entry `first`) */
  /* Workers woken for this batch that have not finished with it: written under the lock, read
   * without it by the caller's spin before it sleeps (wgts_pool_run). */
  atomic_uint pending;
  /* Totals since the pool was made (wgts_pool_stats): wake-ups sent, and the workers' time from
   * a wake to the end of their last chunk, in nanoseconds (uv_hrtime). */
  atomic_uint_least64_t wakes, busy_ns;
};

/* The next chunk of the batch, or false when none is left. Guided self-scheduling: each claim
 * takes 1/(2 * threads) of what is left, at least WGTS_MIN_CHUNK entries, so the first chunks
 * are big (few claims) and the last ones small: when one thread runs out of work, the others are
 * at most a small chunk from the end, and the caller does not sit waiting for a long last one. */
static bool claim(wgts_pool *p, uint32_t *from, uint32_t *n) {
  unsigned cur = atomic_load_explicit(&p->next, memory_order_relaxed);
  for (;;) {
    if (cur >= p->count) return false;
    uint32_t left = p->count - cur;
    uint32_t take = left / (2 * p->threads);
    if (take < WGTS_MIN_CHUNK) take = WGTS_MIN_CHUNK;
    if (take > left) take = left;
    if (atomic_compare_exchange_weak_explicit(&p->next, &cur, cur + take, memory_order_relaxed,
                                              memory_order_relaxed)) {
      *from = cur;
      *n = take;
      return true;
    }
  }
}

/* Claims and runs chunks until none is left; then the thread's done callback if it ran any. */
static void claim_chunks(wgts_pool *p, unsigned thread) {
  bool ran = false;
  uint32_t from, n;
  while (claim(p, &from, &n)) {
    p->fn(p->task, thread, p->first + from, n);
    ran = true;
  }
  if (ran && p->done_fn != NULL) p->done_fn(p->task, thread);
}

static void worker_main(void *arg) {
  worker *w = arg;
  wgts_pool *p = w->pool;
  prctl(PR_SET_NAME, "wgts-aead", 0, 0, 0); /* for top -H, ps -L, /proc/PID/task */
  pthread_mutex_lock(&p->lock);
  for (;;) {
    while (!w->has_job && !p->stop) pthread_cond_wait(&w->wake, &p->lock);
    if (!w->has_job) break; /* stop */
    w->has_job = false;
    pthread_mutex_unlock(&p->lock);
    uint64_t start = uv_hrtime();
    claim_chunks(p, w->thread);
    atomic_fetch_add_explicit(&p->busy_ns, uv_hrtime() - start, memory_order_relaxed);
    pthread_mutex_lock(&p->lock);
    /* Release: every write of this worker's chunks happens before a caller that reads 0. */
    if (atomic_fetch_sub_explicit(&p->pending, 1, memory_order_release) == 1) pthread_cond_signal(&p->done);
  }
  pthread_mutex_unlock(&p->lock);
}

wgts_pool *wgts_pool_new(void) {
  wgts_pool *p = calloc(1, sizeof *p);
  if (p == NULL) return NULL;
  if (pthread_mutex_init(&p->lock, NULL) != 0) {
    free(p);
    return NULL;
  }
  if (pthread_cond_init(&p->done, NULL) != 0) {
    pthread_mutex_destroy(&p->lock);
    free(p);
    return NULL;
  }
  atomic_init(&p->next, 0);
  atomic_init(&p->pending, 0);
  atomic_init(&p->wakes, 0);
  atomic_init(&p->busy_ns, 0);
  return p;
}

/* Stops and joins every worker (only when the thread count changes, so the simplest way). */
static void stop_workers(wgts_pool *p) {
  if (p->n_workers == 0) return;
  pthread_mutex_lock(&p->lock);
  p->stop = true;
  for (unsigned i = 0; i < p->n_workers; i++) pthread_cond_signal(&p->workers[i].wake);
  pthread_mutex_unlock(&p->lock);
  for (unsigned i = 0; i < p->n_workers; i++) {
    uv_thread_join(&p->workers[i].tid);
    pthread_cond_destroy(&p->workers[i].wake);
  }
  p->n_workers = 0;
  p->stop = false;
}

static int start_worker(wgts_pool *p, unsigned i) {
  worker *w = &p->workers[i];
  w->pool = p;
  w->thread = i + 1;
  w->has_job = false;
  if (pthread_cond_init(&w->wake, NULL) != 0) return ENOMEM;
  int err = uv_thread_create(&w->tid, worker_main, w);
  if (err != 0) {
    pthread_cond_destroy(&w->wake);
    return -err; /* libuv errors are negated errnos */
  }
  return 0;
}

int wgts_pool_resize(wgts_pool *p, unsigned n) {
  if (n < 1 || n > WGTS_POOL_MAX) return EINVAL;
  unsigned want = n - 1;
  if (want == p->n_workers) return 0;
  if (want < p->n_workers) stop_workers(p); /* all stop; the kept ones start again below */
  for (unsigned i = p->n_workers; i < want; i++) {
    int err = start_worker(p, i);
    if (err != 0) return err; /* the workers started so far stay */
    p->n_workers = i + 1;
  }
  return 0;
}

unsigned wgts_pool_size(const wgts_pool *p) { return p->n_workers + 1; }

void wgts_pool_stats(wgts_pool *p, uint64_t *wakes, uint64_t *busy_ns) {
  *wakes = atomic_load_explicit(&p->wakes, memory_order_relaxed);
  *busy_ns = atomic_load_explicit(&p->busy_ns, memory_order_relaxed);
}

void wgts_pool_run(wgts_pool *p, unsigned threads, wgts_pool_fn fn, wgts_pool_done_fn done, void *task,
                   uint32_t first, uint32_t count) {
  if (threads > p->n_workers + 1) threads = p->n_workers + 1;
  if (threads > count) threads = count;
  if (threads <= 1) {
    fn(task, 0, first, count);
    if (done != NULL) done(task, 0);
    return;
  }
  pthread_mutex_lock(&p->lock);
  p->fn = fn;
  p->done_fn = done;
  p->task = task;
  p->first = first;
  p->count = count;
  p->threads = threads;
  atomic_store_explicit(&p->next, 0, memory_order_relaxed);
  atomic_store_explicit(&p->pending, threads - 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&p->wakes, threads - 1, memory_order_relaxed);
  for (unsigned k = 0; k < threads - 1; k++) {
    p->workers[k].has_job = true;
    pthread_cond_signal(&p->workers[k].wake);
  }
  pthread_mutex_unlock(&p->lock);
  claim_chunks(p, 0);
  pthread_mutex_lock(&p->lock);
  /* Nothing is left to claim: a worker that has not started yet need not start at all. */
  for (unsigned k = 0; k < threads - 1; k++) {
    if (p->workers[k].has_job) {
      p->workers[k].has_job = false;
      atomic_fetch_sub_explicit(&p->pending, 1, memory_order_relaxed);
    }
  }
  pthread_mutex_unlock(&p->lock);
  /* A worker still inside a chunk is at most a small chunk from its end (claim): wait for it
   * awake for a while rather than sleep, since waking a sleeping thread costs more here (an
   * inter-processor interrupt through the hypervisor) than that chunk. */
  for (unsigned spin = 0; spin < WGTS_JOIN_SPINS; spin++) {
    if (atomic_load_explicit(&p->pending, memory_order_acquire) == 0) return;
    cpu_relax();
  }
  pthread_mutex_lock(&p->lock);
  while (atomic_load_explicit(&p->pending, memory_order_acquire) > 0) pthread_cond_wait(&p->done, &p->lock);
  pthread_mutex_unlock(&p->lock);
}

void wgts_pool_free(wgts_pool *p) {
  if (p == NULL) return;
  stop_workers(p);
  pthread_cond_destroy(&p->done);
  pthread_mutex_destroy(&p->lock);
  free(p);
}
