#include "tm_threads.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

struct tm_pool {
    int n;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t start, done;
    unsigned long generation;
    int pending;
    int quit;
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

static void *worker_main(void *v)
{
    worker_arg *wa = v;
    tm_pool *p = wa->p;
    int id = wa->id;
    free(wa);
    unsigned long seen = 0;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (p->generation == seen && !p->quit)
            pthread_cond_wait(&p->start, &p->mu);
        if (p->quit) {
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
        seen = p->generation;
        tm_range_fn fn = p->fn;
        void *arg = p->arg;
        int tasks = p->tasks;
        pthread_mutex_unlock(&p->mu);
        int b, e;
        chunk(tasks, p->n, id, &b, &e);
        if (b < e)
            fn(arg, b, e, id);
        pthread_mutex_lock(&p->mu);
        if (--p->pending == 0)
            pthread_cond_signal(&p->done);
        pthread_mutex_unlock(&p->mu);
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
    p->quit = 1;
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
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->arg = arg;
    p->tasks = n;
    p->pending = p->n - 1;
    p->generation++;
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->mu);
    int b, e;
    chunk(n, p->n, 0, &b, &e);
    if (b < e)
        fn(arg, b, e, 0);
    pthread_mutex_lock(&p->mu);
    while (p->pending > 0)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}
