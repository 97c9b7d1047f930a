/* A fixed pool of worker threads for batch work. tm_pool_run splits tasks
 * statically (task i always goes to the same worker for a given pool size),
 * so per-worker partial sums are reduced in a fixed order and results are
 * reproducible for a given thread count. */
#ifndef TM_THREADS_H
#define TM_THREADS_H

#include "tm_status.h"

typedef struct tm_pool tm_pool;

/* fn(arg, begin, end, worker) handles tasks [begin, end) on worker `worker`. */
typedef void (*tm_range_fn)(void *arg, int begin, int end, int worker);

/* n_threads <= 0 means one per online core. */
tm_status tm_pool_new(tm_pool **out, int n_threads);
void tm_pool_free(tm_pool *p);
int tm_pool_size(const tm_pool *p);   /* 1 for a NULL pool */
/* Runs fn over [0, n) split into contiguous chunks, one per worker; the
 * calling thread is worker 0. A NULL pool runs everything inline. */
void tm_pool_run(tm_pool *p, int n, tm_range_fn fn, void *arg);
int tm_cpu_count(void);

#endif
