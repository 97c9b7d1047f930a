#include "tm_threads.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* Training calls tm_pool_run many times per step on small ops; a condvar
 * round trip costs tens of microseconds, so both sides first spin this long
 * on an atomic before sleeping. */
#define TM_SPIN_NS 50000L
/* Polls between clock reads while spinning. */
#define TM_SPIN_POLLS 64

struct tm_pool {
    int n;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t start, done;
    /* Written under mu (so a sleeper re-checking under mu cannot miss a
     * broadcast), read lock-free by spinners. */
    atomic_ulong generation;
    atomic_int pending;
    atomic_int quit;
    /* Set before the release store of generation; read after its acquire. */
    tm_range_fn fn;
    void *arg;
    int tasks;
};

typedef struct {
    tm_pool *p;
    int id;
} worker_arg;

static void chunk(int tasks, int n, int id, int *b, int *e)
{
    int per = tasks / n, extra = tasks % n;
    *b = id * per + (id < extra ? id : extra);
    *e = *b + per + (id < extra ? 1 : 0);
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

static long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

/* The two things a spin waits for: a new generation (or quit) for a worker,
 * all workers done for the caller. */
static int started(tm_pool *p, unsigned long seen)
{
    return atomic_load_explicit(&p->generation, memory_order_acquire) != seen ||
           atomic_load_explicit(&p->quit, memory_order_relaxed);
}

static int finished(tm_pool *p, unsigned long seen)
{
    (void)seen;
    return atomic_load_explicit(&p->pending, memory_order_acquire) == 0;
}

/* Spins up to TM_SPIN_NS until ready(p, seen); returns nonzero if it came. */
static int spin_until(int (*ready)(tm_pool *, unsigned long), tm_pool *p, unsigned long seen)
{
    long deadline = 0;
    for (int i = 0;; i++) {
        if (ready(p, seen))
            return 1;
        cpu_relax();
        if (i % TM_SPIN_POLLS == 0) {
            long t = now_ns();
            if (!deadline)
                deadline = t + TM_SPIN_NS;
            else if (t >= deadline)
                return 0;
        }
    }
}

static void *worker_main(void *v)
{
    worker_arg *wa = v;
    tm_pool *p = wa->p;
    int id = wa->id;
    free(wa);
    unsigned long seen = 0;
    for (;;) {
        if (!spin_until(started, p, seen)) {
            pthread_mutex_lock(&p->mu);
            while (atomic_load_explicit(&p->generation, memory_order_acquire) == seen &&
                   !atomic_load_explicit(&p->quit, memory_order_relaxed))
                pthread_cond_wait(&p->start, &p->mu);
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load_explicit(&p->quit, memory_order_acquire))
            return NULL;
        seen = atomic_load_explicit(&p->generation, memory_order_acquire);
        /* The caller cannot publish the next job before we decrement pending,
         * so these stay valid for this generation. */
        tm_range_fn fn = p->fn;
        void *arg = p->arg;
        int tasks = p->tasks;
        int b, e;
        chunk(tasks, p->n, id, &b, &e);
        if (b < e)
            fn(arg, b, e, id);
        if (atomic_fetch_sub_explicit(&p->pending, 1, memory_order_acq_rel) == 1) {
            /* Under mu so a caller between its check and its wait sees it. */
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
}

int tm_cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

tm_status tm_pool_new(tm_pool **out, int n_threads)
{
    *out = NULL;
    if (n_threads <= 0)
        n_threads = tm_cpu_count();
    tm_pool *p = calloc(1, sizeof *p);
    if (!p)
        return tm_error(TM_ERR_NOMEM, "thread pool: out of memory");
    p->n = n_threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->start, NULL);
    pthread_cond_init(&p->done, NULL);
    atomic_init(&p->generation, 0);
    atomic_init(&p->pending, 0);
    atomic_init(&p->quit, 0);
    p->threads = calloc((size_t)n_threads, sizeof(pthread_t));
    if (!p->threads) {
        free(p);
        return tm_error(TM_ERR_NOMEM, "thread pool: out of memory");
    }
    for (int i = 1; i < n_threads; i++) {
        worker_arg *wa = malloc(sizeof *wa);
        if (!wa || (wa->p = p, wa->id = i, pthread_create(&p->threads[i], NULL, worker_main, wa))) {
            free(wa);
            p->n = i; /* workers 1..i-1 exist */
            tm_pool_free(p);
            return tm_error(TM_ERR_THREAD, "thread pool: could not start thread %d of %d", i,
                            n_threads);
        }
    }
    *out = p;
    return TM_OK;
}

void tm_pool_free(tm_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    atomic_store_explicit(&p->quit, 1, memory_order_release);
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n; i++)
        pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->start);
    pthread_cond_destroy(&p->done);
    free(p->threads);
    free(p);
}

int tm_pool_size(const tm_pool *p) { return p ? p->n : 1; }

void tm_pool_run(tm_pool *p, int n, tm_range_fn fn, void *arg)
{
    if (n <= 0)
        return;
    if (!p || p->n == 1 || n == 1) {
        fn(arg, 0, n, 0);
        return;
    }
    p->fn = fn;
    p->arg = arg;
    p->tasks = n;
    atomic_store_explicit(&p->pending, p->n - 1, memory_order_relaxed);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->mu);
    int b, e;
    chunk(n, p->n, 0, &b, &e);
    if (b < e)
        fn(arg, b, e, 0);
    if (!spin_until(finished, p, 0)) {
        pthread_mutex_lock(&p->mu);
        while (atomic_load_explicit(&p->pending, memory_order_acquire) > 0)
            pthread_cond_wait(&p->done, &p->mu);
        pthread_mutex_unlock(&p->mu);
    }
}
