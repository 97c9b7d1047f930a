#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tm_cli.h"
#include "tm_data_load.h"
#include "tm_train.h"

static void help(FILE *f)
{
    fprintf(f, "usage: tinym2net eval RUN_DIR [options]\n\n"
               "Loads RUN_DIR/model.h5 (weights and the experiment they were trained with),\n"
               "rebuilds the data split and prints its metrics as JSON on stdout.\n\n"
               "options:\n"
               "  --split NAME        test (default), val or train\n"
               "  --set SEC.KEY=VAL   override a key of the stored experiment (e.g. data paths)\n"
               "  --help              this text\n");
}

int tm_cmd_eval(int argc, char **argv)
{
    const char *dir = NULL, *split = "test";
    const char *sets[64];
    int n_sets = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            help(stdout);
            return 0;
        } else if (!strcmp(a, "--split")) {
            if (!(split = tm_cli_value(argc, argv, &i)))
                return 2;
        } else if (!strcmp(a, "--set")) {
            if (!(v = tm_cli_value(argc, argv, &i)) || n_sets == 64)
                return 2;
            sets[n_sets++] = v;
        } else if (a[0] == '-') {
            fprintf(stderr, "tinym2net eval: unknown option '%s' (see --help)\n", a);
            return 2;
        } else if (!dir) {
            dir = a;
        } else {
            fprintf(stderr, "tinym2net eval: unexpected argument '%s'\n", a);
            return 2;
        }
    }
    if (!dir) {
        help(stderr);
        return 2;
    }
    if (strcmp(split, "test") && strcmp(split, "val") && strcmp(split, "train")) {
        fprintf(stderr, "tinym2net eval: --split must be test, val or train\n");
        return 2;
    }
    char path[TM_PATH_LEN + 16];
    snprintf(path, sizeof path, "%s/model.h5", dir);
    char *text = NULL;
    if (tm_read_experiment_text(path, &text) != TM_OK)
        return tm_cli_fail("eval");
    tm_experiment e;
    tm_status s = tm_experiment_parse(&e, text, path, sets, n_sets);
    free(text);
    if (s != TM_OK)
        return tm_cli_fail("eval");
    tm_splits data;
    if ((s = tm_load_splits(&e, &data)) != TM_OK) {
        tm_experiment_free(&e);
        return tm_cli_fail("eval");
    }
    tm_experiment_set_classes(&e, data.train.n_classes);
    const tm_dataset *d = !strcmp(split, "test") ? &data.test
                          : !strcmp(split, "val") ? &data.val
                                                  : &data.train;
    tm_model *m = NULL;
    tm_rng r;
    tm_rng_seed(&r, 0);
    int map[TM_MAX_BRANCHES];
    float *probs = NULL;
    tm_metrics met;
    memset(&met, 0, sizeof met);
    tm_pool *pool = NULL;
    double loss = 0;
    s = tm_model_build(&m, &e.model, &r);
    if (s == TM_OK)
        s = tm_model_load_weights(m, path);
    if (s == TM_OK)
        s = tm_match_branches(&e, &m->spec, d, map);
    if (s == TM_OK)
        s = tm_pool_new(&pool, e.threads);
    if (s == TM_OK && !(probs = malloc(sizeof(float) * (size_t)d->n * d->n_classes)))
        s = tm_error(TM_ERR_NOMEM, "eval: out of memory");
    if (s == TM_OK)
        s = tm_predict(m, pool, d, map, probs, &loss);
    if (s == TM_OK)
        s = tm_metrics_compute(&met, d->label, probs, d->n, d->n_classes);
    if (s == TM_OK) {
        met.loss = loss;
        char prefix[16];
        snprintf(prefix, sizeof prefix, "%s_", split);
        printf("{\n  \"run\": \"%s\",\n", dir);
        s = tm_metrics_write_json(stdout, &met, d->class_names, prefix, 2);
        printf("\n}\n");
    }
    tm_metrics_free(&met);
    free(probs);
    tm_pool_free(pool);
    tm_model_free(m);
    tm_splits_free(&data);
    tm_experiment_free(&e);
    return s == TM_OK ? 0 : tm_cli_fail("eval");
}
