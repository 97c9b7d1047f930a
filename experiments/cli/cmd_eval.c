#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tm_cli.h"
#include "tm_data_load.h"
#include "tm_json.h"
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
    static const char *const splits[] = {"test", "val", "train", NULL};
    const char *dir = NULL, *split = "test";
    const char *sets[64];
    tm_cli_list set_list = {sets, 0, 64};
    const tm_cli_option opts[] = {
        TM_CLI_CHOICE("--split", &split, splits),
        TM_CLI_LIST("--set", &set_list),
        {0},
    };
    int rc = tm_cli_parse("eval", help, opts, argc, argv, &dir, 1);
    if (rc)
        return rc == TM_CLI_HELP ? 0 : rc;
    char path[TM_PATH_LEN + 16];
    snprintf(path, sizeof path, "%s/model.h5", dir);
    char *text = NULL;
    if (tm_read_experiment_text(path, &text) != TM_OK)
        return tm_cli_fail("eval");
    tm_experiment e;
    tm_status s = tm_experiment_parse(&e, text, path, sets, set_list.n);
    free(text);
    if (s != TM_OK)
        return tm_cli_fail("eval");
    tm_splits data;
    if ((s = tm_load_splits(&e, &data, stderr)) != TM_OK) {
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
        json_t *doc = json_object();
        int bad = tm_json_set_str(doc, "run", dir);
        bad |= tm_json_add_skipped(doc, &data);
        bad |= tm_json_add_metrics(doc, &met, d->class_names, prefix);
        s = bad ? tm_error(TM_ERR_NOMEM, "eval: out of memory building the JSON")
                : tm_json_put(stdout, doc, "standard output");
        json_decref(doc);
    }
    tm_metrics_free(&met);
    free(probs);
    tm_pool_free(pool);
    tm_model_free(m);
    tm_splits_free(&data);
    tm_experiment_free(&e);
    return s == TM_OK ? 0 : tm_cli_fail("eval");
}
