/*
 * wgts native addon: a fork-join thread pool for the bulk transport AEAD (native/aead.c; issue 11
 * "Multi-core"). One synchronous native call splits its batch into contiguous slices; slice 0
 * runs on the calling JavaScript thread, slice k on persistent worker k, and the call returns
 * only when every slice is done. No JavaScript runs meanwhile, so no pointer into a JavaScript
 * buffer outlives the call, and the order of the datagrams is the caller's index order.
 */
#ifndef WGTS_CRYPTO_POOL_H
#define WGTS_CRYPTO_POOL_H

#include "limits.h"

#include <stdint.h>

typedef struct wgts_pool wgts_pool;

/* One chunk of a batch: entries [first, first + count) of `task`, run by thread `thread` (0: the
 * caller). A thread may run several chunks of one batch, one after another. */
typedef void (*wgts_pool_fn)(void *task, unsigned thread, uint32_t first, uint32_t count);
/* Called once by each thread that ran at least one chunk of the batch, after its last one. */
typedef void (*wgts_pool_done_fn)(void *task, unsigned thread);

/* A pool of one thread (the caller, no workers); NULL when out of memory. */
wgts_pool *wgts_pool_new(void);
/* Stops and joins every worker, then frees the pool. */
void wgts_pool_free(wgts_pool *p);
/* Sets the number of threads to n (1..WGTS_POOL_MAX, the caller counted). Returns 0 or an errno;
 * on failure the pool keeps the workers it had. */
int wgts_pool_resize(wgts_pool *p, unsigned n);
/* The number of threads, the caller counted. */
unsigned wgts_pool_size(const wgts_pool *p);
/* Totals since the pool was made: worker wake-ups sent, and nanoseconds workers spent from a wake
 * to the end of their last chunk of that batch (the CPU they would give back if not woken). */
void wgts_pool_stats(wgts_pool *p, uint64_t *wakes, uint64_t *busy_ns);
/* Runs fn over [first, first + count) on up to `threads` threads (the caller included): the
 * range is cut into contiguous chunks that the threads claim in index order; the caller claims
 * too, and takes over every chunk a worker has not started, so a worker the scheduler runs late
 * costs a wake-up, never the batch's time. Returns when every chunk is done. */
void wgts_pool_run(wgts_pool *p, unsigned threads, wgts_pool_fn fn, wgts_pool_done_fn done, void *task,
                   uint32_t first, uint32_t count);

#endif
