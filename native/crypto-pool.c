/*
 * wgts native addon: the fork-join pool of native/crypto-pool.h. Each worker sleeps on its own
 * condition variable until it is handed a slice, so a batch cut into fewer slices than there are
 * threads wakes only the workers it needs; the caller sleeps on one shared condition until the
 * count of outstanding slices reaches zero. The mutex makes every write a worker did visible to
 * the caller before the call returns (and the batch's arguments visible to the worker).
 */
#include "crypto-pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

typedef struct worker {
  pthread_t tid;
  pthread_cond_t wake;
  struct wgts_pool *pool;
  unsigned slice;
  bool has_job;
  /* The slice handed to this worker (valid while has_job). */
  wgts_pool_fn fn;
  void *task;
  uint32_t first, count;
} worker;

struct wgts_pool {
  pthread_mutex_t lock;
  pthread_cond_t done;
  unsigned pending; /* slices handed out and not yet finished */
  bool stop;
  unsigned n_workers;
  worker workers[WGTS_POOL_MAX - 1];
};

static void *worker_main(void *arg) {
  worker *w = arg;
  wgts_pool *p = w->pool;
  pthread_mutex_lock(&p->lock);
  for (;;) {
    while (!w->has_job && !p->stop) pthread_cond_wait(&w->wake, &p->lock);
    if (w->has_job) {
      pthread_mutex_unlock(&p->lock);
      w->fn(w->task, w->slice, w->first, w->count);
      pthread_mutex_lock(&p->lock);
      w->has_job = false;
      if (--p->pending == 0) pthread_cond_signal(&p->done);
      continue;
    }
    break; /* stop, and nothing left to do */
  }
  pthread_mutex_unlock(&p->lock);
  return NULL;
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
  return p;
}

/* Stops and joins workers [keep, n_workers). */
static void stop_workers(wgts_pool *p, unsigned keep) {
  if (p->n_workers <= keep) return;
  /* Every worker sees `stop`; those that must stay are restarted below, which is simpler than a
   * per-worker flag and happens only when the thread count changes. */
  pthread_mutex_lock(&p->lock);
  p->stop = true;
  for (unsigned i = 0; i < p->n_workers; i++) pthread_cond_signal(&p->workers[i].wake);
  pthread_mutex_unlock(&p->lock);
  for (unsigned i = 0; i < p->n_workers; i++) {
    pthread_join(p->workers[i].tid, NULL);
    pthread_cond_destroy(&p->workers[i].wake);
  }
  p->n_workers = 0;
  p->stop = false;
}

static int start_worker(wgts_pool *p, unsigned i) {
  worker *w = &p->workers[i];
  w->pool = p;
  w->slice = i + 1;
  w->has_job = false;
  if (pthread_cond_init(&w->wake, NULL) != 0) return ENOMEM;
  int err = pthread_create(&w->tid, NULL, worker_main, w);
  if (err != 0) {
    pthread_cond_destroy(&w->wake);
    return err;
  }
  return 0;
}

int wgts_pool_resize(wgts_pool *p, unsigned n) {
  if (n < 1 || n > WGTS_POOL_MAX) return EINVAL;
  unsigned want = n - 1;
  if (want == p->n_workers) return 0;
  unsigned had = p->n_workers;
  if (want < had) {
    stop_workers(p, want);
    had = 0; /* all were stopped; start the kept ones again */
  }
  for (unsigned i = had; i < want; i++) {
    int err = start_worker(p, i);
    if (err != 0) return err; /* the workers started so far stay */
    p->n_workers = i + 1;
  }
  return 0;
}

unsigned wgts_pool_size(const wgts_pool *p) { return p->n_workers + 1; }

void wgts_pool_run(wgts_pool *p, unsigned slices, wgts_pool_fn fn, void *task, uint32_t first,
                   uint32_t count) {
  if (slices > p->n_workers + 1) slices = p->n_workers + 1;
  if (slices > count) slices = count;
  if (slices <= 1) {
    fn(task, 0, first, count);
    return;
  }
  /* Near-equal contiguous slices: the first `extra` get one more entry. */
  uint32_t base = count / slices, extra = count % slices;
  uint32_t own = base + (extra > 0 ? 1 : 0);
  uint32_t at = first + own;
  pthread_mutex_lock(&p->lock);
  p->pending = slices - 1;
  for (unsigned k = 1; k < slices; k++) {
    worker *w = &p->workers[k - 1];
    uint32_t n = base + (k < extra ? 1 : 0);
    w->fn = fn;
    w->task = task;
    w->first = at;
    w->count = n;
    w->has_job = true;
    at += n;
    pthread_cond_signal(&w->wake);
  }
  pthread_mutex_unlock(&p->lock);
  fn(task, 0, first, own);
  pthread_mutex_lock(&p->lock);
  while (p->pending > 0) pthread_cond_wait(&p->done, &p->lock);
  pthread_mutex_unlock(&p->lock);
}

void wgts_pool_free(wgts_pool *p) {
  if (p == NULL) return;
  stop_workers(p, 0);
  pthread_cond_destroy(&p->done);
  pthread_mutex_destroy(&p->lock);
  free(p);
}
