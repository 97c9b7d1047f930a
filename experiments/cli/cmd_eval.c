/* tinym2net eval: the metrics of a trained run (its float model) or of a
 * quantised one (its model.tm2n on the integer runtime) on a data split. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tm_cli.h"
#include "tm_data_load.h"
#include "tm_json.h"
#include "tm_plot.h"
#include "tm_qrun.h"
#include "tm_train.h"

static void help(FILE *f)
{
    fprintf(f, "usage: tinym2net eval DIR [options]\n\n"
               "DIR is a training run (model.h5: its float model) or a quantised run\n"
               "(model.tm2n and qmodel.h5 from `tinym2net quantize` or `search`: the model file\n"
               "on the integer runtime, as the device computes it). Rebuilds the data split of\n"
               "the stored experiment and prints its metrics as JSON on stdout.\n\n"
               "options:\n"
               "  --split NAME        test (default), val or train\n"
               "  --set SEC.KEY=VAL   override a key of the stored experiment (e.g. data paths)\n"
               "  --confusion F.png   also draw the confusion matrix (gnuplot; F.gp and F.dat\n"
               "                      beside it)\n"
               "  --help              this text\n");
}

static int exists(const char *dir, const char *name)
{
    char p[TM_PATH_LEN + 32];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    struct stat st;
    return stat(p, &st) == 0;
}

/* The integer runtime on a quantised run's model file: probabilities of
 * every row of the split, and its cross-entropy. */
static tm_status eval_quantised(const char *dir, const char *const *sets, int n_sets,
                                const char *split, tm_qrun *r, const tm_dataset **d,
                                float **probs, double *loss)
{
    char path[TM_PATH_LEN + 32];
    snprintf(path, sizeof path, "%s/qmodel.h5", dir);
    TM_TRY(tm_qrun_open_file(r, path, sets, n_sets));
    const tm_qat_data *v = !strcmp(split, "test") ? &r->test
                           : !strcmp(split, "val") ? &r->val
                                                   : &r->train;
    *d = !strcmp(split, "test") ? &r->data.test
         : !strcmp(split, "val") ? &r->data.val
                                 : &r->data.train;
    snprintf(path, sizeof path, "%s/model.tm2n", dir);
    TM_TRY(tm_read_file_aligned(path, &r->bytes, &r->size));
    TM_TRY(tm_qsim_open(&r->sim, r->m, r->bytes, r->size));
    r->have_sim = 1;
    int k = r->m->spec.n_classes;
    if (!(*probs = malloc(sizeof(float) * (size_t)(v->n ? v->n : 1) * k)))
        return tm_error(TM_ERR_NOMEM, "eval: out of memory");
    TM_TRY(tm_qsim_predict(&r->sim, v, *probs, NULL));
    double sum = 0;
    for (int i = 0; i < v->n; i++) {
        double p = (*probs)[(size_t)i * k + v->label[i]];
        sum += -log(p > 1e-12 ? p : 1e-12);
    }
    *loss = v->n ? sum / v->n : 0.0;
    return TM_OK;
}

/* The float model of a training run. */
static tm_status eval_float(const char *dir, const char *const *sets, int n_sets,
                            const char *split, tm_experiment *e, int *have_e, tm_splits *data,
                            int *have_data, tm_model **m, const tm_dataset **d, float **probs,
                            double *loss)
{
    char path[TM_PATH_LEN + 16];
    snprintf(path, sizeof path, "%s/model.h5", dir);
    TM_TRY(tm_run_read_experiment(e, path, sets, n_sets));
    *have_e = 1;
    TM_TRY(tm_load_splits(e, data, stderr));
    *have_data = 1;
    tm_experiment_set_classes(e, data->train.n_classes);
    *d = !strcmp(split, "test") ? &data->test : !strcmp(split, "val") ? &data->val : &data->train;
    int map[TM_MAX_BRANCHES];
    float mean[TM_MAX_BRANCHES], std[TM_MAX_BRANCHES];
    TM_TRY(tm_run_load_model(path, e, m, mean, std, NULL));
    TM_TRY(tm_match_branches(e, &(*m)->spec, *d, map));
    tm_pool *pool = NULL;
    TM_TRY(tm_pool_new(&pool, e->threads));
    tm_status s;
    if (!(*probs = malloc(sizeof(float) * (size_t)((*d)->n ? (*d)->n : 1) * (*d)->n_classes)))
        s = tm_error(TM_ERR_NOMEM, "eval: out of memory");
    else
        s = tm_predict(*m, pool, *d, map, *probs, loss);
    tm_pool_free(pool);
    return s;
}

int tm_cmd_eval(int argc, char **argv)
{
    static const char *const splits[] = {"test", "val", "train", NULL};
    const char *dir = NULL, *split = "test", *confusion = NULL;
    const char *sets[64];
    tm_cli_list set_list = {sets, 0, 64};
    const tm_cli_option opts[] = {
        TM_CLI_CHOICE("--split", &split, splits),
        TM_CLI_LIST("--set", &set_list),
        TM_CLI_STRING("--confusion", NULL, &confusion),
        {0},
    };
    int rc = tm_cli_parse("eval", help, opts, argc, argv, &dir, 1);
    if (rc)
        return rc == TM_CLI_HELP ? 0 : rc;
    int quantised = exists(dir, "model.tm2n") && exists(dir, "qmodel.h5");
    if (!quantised && !exists(dir, "model.h5") &&
        (exists(dir, "model.tm2n") || exists(dir, "qmodel.h5"))) {
        fprintf(stderr, "tinym2net eval: error: %s holds %s but not %s: a quantised run needs "
                        "both (rerun quantize)\n",
                dir, exists(dir, "model.tm2n") ? "model.tm2n" : "qmodel.h5",
                exists(dir, "model.tm2n") ? "qmodel.h5" : "model.tm2n");
        return 1;
    }
    tm_qrun qr;
    memset(&qr, 0, sizeof qr);
    tm_experiment e;
    tm_splits data;
    int have_e = 0, have_data = 0;
    tm_model *m = NULL;
    const tm_dataset *d = NULL;
    const tm_splits *all = NULL;
    float *probs = NULL;
    double loss = 0;
    tm_metrics met;
    memset(&met, 0, sizeof met);
    tm_status s;
    if (quantised) {
        s = eval_quantised(dir, sets, set_list.n, split, &qr, &d, &probs, &loss);
        all = &qr.data;
    } else {
        s = eval_float(dir, sets, set_list.n, split, &e, &have_e, &data, &have_data, &m, &d,
                       &probs, &loss);
        all = &data;
    }
    if (s == TM_OK)
        s = tm_metrics_compute(&met, d->label, probs, d->n, d->n_classes);
    if (s == TM_OK) {
        met.loss = loss;
        char prefix[16];
        snprintf(prefix, sizeof prefix, "%s_", split);
        json_t *doc = json_object();
        int bad = tm_json_set_str(doc, "run", dir);
        bad |= tm_json_set_str(doc, "model", quantised ? "integer runtime (model.tm2n)"
                                                       : "float (model.h5)");
        bad |= tm_json_add_skipped(doc, all);
        bad |= tm_json_add_metrics(doc, &met, d->class_names, prefix);
        s = bad ? tm_error(TM_ERR_NOMEM, "eval: out of memory building the JSON")
                : tm_json_put(stdout, doc, "standard output");
        json_decref(doc);
    }
    if (s == TM_OK && confusion) {
        int k = met.k, *conf = malloc(sizeof(int) * (size_t)k * k), skipped = 0;
        if (!conf) {
            s = tm_error(TM_ERR_NOMEM, "eval: out of memory");
        } else {
            for (int i = 0; i < k * k; i++)
                conf[i] = (int)met.confusion[i];
            char title[TM_PATH_LEN + 64];
            snprintf(title, sizeof title, "%s, %s split%s", dir, split,
                     quantised ? ", integer runtime" : "");
            const char **names = malloc(sizeof(char *) * (size_t)k);
            if (!names) {
                s = tm_error(TM_ERR_NOMEM, "eval: out of memory");
            } else {
                for (int c = 0; c < k; c++)
                    names[c] = d->class_names[c];
                s = tm_plot_confusion(confusion, title, names, conf, k, &skipped);
                free(names);
            }
            free(conf);
            if (s == TM_OK && skipped)
                fprintf(stderr, "tinym2net eval: gnuplot not found: %s skipped (its .gp and "
                                ".dat are written)\n",
                        confusion);
        }
    }
    tm_metrics_free(&met);
    free(probs);
    tm_model_free(m);
    if (have_data)
        tm_splits_free(&data);
    if (have_e)
        tm_experiment_free(&e);
    tm_qrun_close(&qr);
    return s == TM_OK ? 0 : tm_cli_fail("eval");
}
