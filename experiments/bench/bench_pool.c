/* Per-call overhead of tm_pool_run: N calls of a near-empty range function
 * on a pool of --threads threads, beside the same calls run inline, in one
 * run. What is left after subtracting the inline time is the wake/sleep cost
 * every small parallel op in a training step pays.
 *
 *   build/bench_pool [--calls N] [--threads T] [--work W]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tm_progress.h"
#include "tm_threads.h"

typedef struct {
    int work;
    volatile float sink[64];
} job;

/* `work` multiply-adds per task: enough to keep the call from being empty. */
static void small_op(void *v, int b, int e, int worker)
{
    job *j = v;
    float acc = 0;
    for (int t = b; t < e; t++)
        for (int i = 0; i < j->work; i++)
            acc = acc * 0.999f + (float)(t ^ i);
    j->sink[worker % 64] = acc;
}

static double time_calls(tm_pool *p, int calls, job *j)
{
    for (int i = 0; i < 100; i++)
        tm_pool_run(p, 64, small_op, j);
    double t0 = tm_now_seconds();
    for (int i = 0; i < calls; i++)
        tm_pool_run(p, 64, small_op, j);
    return (tm_now_seconds() - t0) / calls;
}

int main(int argc, char **argv)
{
    int calls = 20000, threads = 2, work = 8;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--calls") && i + 1 < argc)
            calls = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--work") && i + 1 < argc)
            work = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_pool [--calls N] [--threads T] [--work W]\n");
            return 2;
        }
    }
    if (calls < 1 || threads < 2 || work < 0) {
        fprintf(stderr, "bench_pool: need --calls >= 1, --threads >= 2, --work >= 0\n");
        return 2;
    }
    tm_pool *p = NULL;
    if (tm_pool_new(&p, threads) != TM_OK) {
        fprintf(stderr, "bench_pool: %s\n", tm_last_error());
        return 1;
    }
    job j = {.work = work};
    double inline_s = time_calls(NULL, calls, &j);
    double pool_s = time_calls(p, calls, &j);
    printf("%d calls of 64 tasks x %d madds, %d threads\n", calls, work, threads);
    printf("inline_us_per_call %.2f\n", inline_s * 1e6);
    printf("pool_us_per_call %.2f\n", pool_s * 1e6);
    printf("pool_overhead_us_per_call %.2f\n", (pool_s - inline_s) * 1e6);
    tm_pool_free(p);
    return 0;
}
