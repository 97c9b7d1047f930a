/* Training throughput of a model from an experiment file (default: the
 * fused reference model of docs/reference-model.md) at batch 32 on random inputs,
 * beside PyTorch training the same model in the same run, as a ratio.
 *
 *   build/bench_train [--cfg FILE] [--seconds S] [--threads N] [--batch B] [--no-torch]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tm_progress.h"
#include "tm_train.h"

#ifndef TM_SOURCE_DIR
#define TM_SOURCE_DIR "."
#endif

static double run_ours(tm_experiment *e, int batch, double seconds, int threads)
{
    tm_rng r;
    tm_rng_seed(&r, 1);
    tm_model *m = NULL;
    tm_pool *pool = NULL;
    tm_optimizer *opt = NULL;
    if (tm_model_build(&m, &e->model, &r) != TM_OK || tm_pool_new(&pool, threads) != TM_OK)
        return -1;
    tm_tensor **params = malloc(sizeof *params * (size_t)m->n_params);
    for (int i = 0; i < m->n_params; i++)
        params[i] = m->params[i].t;
    tm_optim_config oc;
    tm_optim_config_default(&oc, TM_OPT_ADAM);
    if (tm_optim_new(&opt, &oc, params, NULL, m->n_params) != TM_OK)
        return -1;
    /* Fixed random batches, reused: we time the model, not data loading. */
    enum { NB = 4 };
    float *inputs[NB][TM_MAX_BRANCHES];
    int labels[NB][1024];
    for (int k = 0; k < NB; k++) {
        for (int b = 0; b < m->spec.n_branches; b++) {
            const int *in = m->spec.branches[b].input;
            size_t n = (size_t)batch * in[0] * in[1] * in[2];
            inputs[k][b] = malloc(n * sizeof(float));
            for (size_t i = 0; i < n; i++)
                inputs[k][b][i] = tm_rng_normal(&r);
        }
        for (int i = 0; i < batch; i++)
            labels[k][i] = (int)tm_rng_below(&r, (uint32_t)m->spec.n_classes);
    }
    float *probs = malloc(sizeof(float) * (size_t)batch * m->spec.n_classes);
    tm_tape t;
    tm_tape_init(&t, pool, 0);
    double start = 0;
    long samples = 0;
    for (int step = 0;; step++) {
        if (step == 5)
            start = tm_now_seconds(); /* warm-up done: arena and BLAS buffers exist */
        int k = step % NB;
        tm_tape_reset(&t);
        tm_tensor *x[TM_MAX_BRANCHES];
        for (int b = 0; b < m->spec.n_branches; b++) {
            const int *in = m->spec.branches[b].input;
            int shape[4] = {batch, in[0], in[1], in[2]};
            tm_arena_tensor(&t.arena, &x[b], 4, shape, 0);
            memcpy(x[b]->data, inputs[k][b], x[b]->size * sizeof(float));
        }
        float loss;
        if (tm_train_step(m, &t, opt, x, labels[k], NULL, 2e-3f, probs, &loss) != TM_OK) {
            fprintf(stderr, "bench_train: %s\n", tm_last_error());
            return -1;
        }
        if (step >= 5) {
            samples += batch;
            if (tm_now_seconds() - start >= seconds)
                break;
        }
    }
    double sps = samples / (tm_now_seconds() - start);
    tm_tape_free(&t);
    tm_optim_free(opt);
    tm_pool_free(pool);
    tm_model_free(m);
    free(params);
    free(probs);
    return sps;
}

static double run_torch(const tm_experiment *e, int batch, double seconds, int threads)
{
    char shapes[512] = "", cmd[2048];
    const char *names[TM_MAX_BRANCHES];
    for (int b = 0; b < e->model.n_branches; b++) {
        const int *in = e->model.branches[b].input;
        names[b] = e->model.branches[b].name;
        size_t used = strlen(shapes);
        snprintf(shapes + used, sizeof shapes - used, " --%s-shape %d,%d,%d", names[b], in[0],
                 in[1], in[2]);
    }
    snprintf(cmd, sizeof cmd,
             "python3 '%s/experiments/bench/torch_reference.py' bench --batch %d --seconds %g "
             "--threads %d --classes %d%s",
             TM_SOURCE_DIR, batch, seconds, threads, e->model.n_classes, shapes);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    char line[256];
    double sps = -1;
    while (fgets(line, sizeof line, p))
        if (sscanf(line, "torch_train_samples_per_s %lf", &sps) == 1)
            break;
    pclose(p);
    return sps;
}

int main(int argc, char **argv)
{
    const char *cfg = TM_SOURCE_DIR "/experiments/avdigits/fused-compressed.cfg";
    double seconds = 10;
    int threads = 2, batch = 32, torch = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--cfg") && i + 1 < argc)
            cfg = argv[++i];
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc)
            batch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--no-torch"))
            torch = 0;
        else {
            fprintf(stderr, "usage: bench_train [--cfg FILE] [--seconds S] [--threads N] "
                            "[--batch B] [--no-torch]\n");
            return 2;
        }
    }
    if (batch < 1 || batch > 1024 || threads < 1 || !(seconds > 0)) {
        fprintf(stderr, "bench_train: bad --batch, --threads or --seconds\n");
        return 2;
    }
    tm_experiment e;
    if (tm_experiment_load(&e, cfg, NULL, 0) != TM_OK) {
        fprintf(stderr, "bench_train: %s\n", tm_last_error());
        return 1;
    }
    tm_experiment_set_classes(&e, 10);
    printf("model: %s, batch %d, %d threads, %.0f s each\n", cfg, batch, threads, seconds);
    double ours = run_ours(&e, batch, seconds, threads);
    if (ours < 0) {
        fprintf(stderr, "bench_train: %s\n", tm_last_error());
        return 1;
    }
    printf("tinym2net_train_samples_per_s %.1f\n", ours);
    if (torch) {
        double theirs = run_torch(&e, batch, seconds, threads);
        if (theirs <= 0) {
            printf("pytorch: not available (python3-torch missing?)\n");
        } else {
            printf("torch_train_samples_per_s %.1f\n", theirs);
            printf("ratio tinym2net / pytorch = %.2fx\n", ours / theirs);
        }
    }
    tm_experiment_free(&e);
    return 0;
}
