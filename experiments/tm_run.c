#include "tm_run.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tm_fs.h"
#include "tm_json.h"
#include "tm_plot.h"
#include "tm_run_folder.h"

tm_status tm_write_metrics_json(const char *dir, const tm_experiment *e, const char *variant,
                                const tm_train_result *r, const tm_splits *data,
                                const char (*ablation_names)[TM_LAYER_NAME],
                                const double *ablation_acc, int n_ablations)
{
    json_t *h = json_object(), *a = NULL;
    int bad = !h;
    bad |= tm_json_set(h, "seed", json_integer((json_int_t)e->seed));
    bad |= tm_json_set_int(h, "epochs", r->epochs_done);
    bad |= tm_json_set_int(h, "parameters", r->params);
    bad |= tm_json_set_int(h, "macs_per_sample", r->macs);
    bad |= tm_json_set_num(h, "train_seconds", r->train_seconds, 3);
    bad |= tm_json_set_num(h, "train_samples_per_s", r->samples_per_s, 1);
    bad |= tm_json_set_num(h, "best_val_accuracy", r->best_val_accuracy, 6);
    bad |= tm_json_set_int(h, "best_epoch", r->best_epoch);
    bad |= tm_json_set_num(h, "val_accuracy", r->val_accuracy, 6);
    if (n_ablations > 0) {
        json_t *abl = json_object();
        for (int i = 0; i < n_ablations; i++)
            bad |= tm_json_set_num(abl, ablation_names[i], ablation_acc[i], 6);
        a = json_object();
        bad |= tm_json_set(a, "ablations", abl);
    }
    tm_run_metrics mt = {.experiment = e->name, .variant = variant, .head = h, .tail = a,
                         .data = data, .test = &r->test};
    return tm_run_write_metrics(dir, &mt, bad);
}

/* training.png of a finished training: log.csv (written in the run folder
 * as training went) is linked into the stage so the picture changes with
 * the rest of the outputs. */
static tm_status plot_training(const char *run_dir, const char *stage_dir, const char *title,
                               int *skipped)
{
    char from[TM_PATH_LEN + 16], to[TM_PATH_LEN + 160];
    snprintf(from, sizeof from, "%s/log.csv", run_dir);
    snprintf(to, sizeof to, "%s/log.csv", stage_dir);
    if (link(from, to) != 0 && errno != EEXIST)
        return tm_error(TM_ERR_IO, "%s: cannot link it into %s: %s", from, stage_dir,
                        strerror(errno));
    return tm_plot_training(stage_dir, title, skipped);
}

static void report(FILE *out, const char *variant, const tm_train_result *r)
{
    if (!out)
        return;
    fprintf(out, "%s: test accuracy %.4f, macro-F1 %.4f (best val %.4f at epoch %d), %.0f "
                 "samples/s\n",
            variant, r->test.accuracy, r->test.macro_f1, r->best_val_accuracy, r->best_epoch,
            r->samples_per_s);
}

tm_status tm_run_experiment(const tm_experiment *e, const tm_run_options *o)
{
    tm_splits data;
    TM_TRY(tm_load_splits(e, &data, stderr));
    tm_experiment ex = *e;
    tm_status s = tm_model_spec_copy(&ex.model, &e->model);
    if (s != TM_OK) {
        tm_splits_free(&data);
        return s;
    }
    tm_experiment_set_classes(&ex, data.train.n_classes);
    FILE *out = o->train.progress;
    /* distributed: the other ranks train alongside rank 0 and write nothing */
    const int writer = !o->train.distributed || !o->train.ranks || o->train.ranks->rank == 0;
    if (out) {
        fprintf(out, "experiment %s: %d train / %d val / %d test samples, %d classes\n", e->name,
                data.train.n, data.val.n, data.test.n, data.train.n_classes);
    }
    /* model.h5 and metrics.json, the ablations' too, change as one unit. */
    tm_outdir od;
    memset(&od, 0, sizeof od);
    tm_train_result main_res;
    memset(&main_res, 0, sizeof main_res);
    int no_plot = 0;
    if (writer && (s = tm_outdir_begin(&od, o->train.out_dir)) != TM_OK)
        goto done;
    tm_train_options to = o->train;
    to.result_dir = writer ? od.stage : NULL;
    tm_model *m = NULL;
    s = tm_train(&ex, &ex.model, &data, &to, &m, &main_res);
    if (s == TM_OK && out && writer && !main_res.stopped_early) {
        fprintf(out, "model:\n");
        tm_model_summary(m, out);
    }
    tm_model_free(m);
    if (s != TM_OK || main_res.stopped_early)
        goto done;
    char main_variant[TM_LAYER_NAME + 8];
    if (ex.branch[0])
        snprintf(main_variant, sizeof main_variant, "%s only", ex.branch);
    else
        snprintf(main_variant, sizeof main_variant, "%s",
                 ex.model.n_branches > 1 ? "fused" : "single");
    report(out, main_variant, &main_res);

    char names[TM_MAX_BRANCHES][TM_LAYER_NAME];
    double acc[TM_MAX_BRANCHES];
    int n_abl = 0;
    if (o->ablations && ex.model.n_branches > 1) {
        for (int b = 0; b < ex.model.n_branches && s == TM_OK; b++) {
            const char *bn = ex.model.branches[b].name;
            /* Its own experiment (text with [experiment] branch = bn), so that the
             * ablation folder's model.h5 rebuilds the single-branch model later. */
            tm_experiment single;
            if ((s = tm_experiment_single_branch(&single, &ex, bn)) != TM_OK)
                break;
            snprintf(single.name, sizeof single.name, "%s", ex.name);
            tm_experiment_set_classes(&single, data.train.n_classes);
            char dir[TM_PATH_LEN], rdir[sizeof od.stage + 80];
            snprintf(dir, sizeof dir, "%s/ablation-%s", o->train.out_dir, bn);
            snprintf(rdir, sizeof rdir, "%s/ablation-%s", od.stage, bn);
            tm_run_options ao = *o;
            ao.train.out_dir = dir;
            ao.train.result_dir = rdir;
            if (writer && (s = tm_mkdirs(rdir)) != TM_OK) {
                tm_experiment_free(&single);
                break;
            }
            if (out)
                fprintf(out, "ablation: %s branch alone\n", bn);
            tm_train_result r;
            s = tm_train(&single, &single.model, &data, &ao.train, NULL, &r);
            if (s != TM_OK) {
                tm_experiment_free(&single);
                break;
            }
            if (r.stopped_early) {
                tm_experiment_free(&single);
                main_res.stopped_early = 1;
                break;
            }
            if (!writer) {
                tm_experiment_free(&single);
                continue;
            }
            char variant[TM_LAYER_NAME + 8];
            snprintf(variant, sizeof variant, "%s only", bn);
            report(out, variant, &r);
            s = tm_write_metrics_json(rdir, &single, variant, &r, &data, NULL, NULL, 0);
            if (s == TM_OK) {
                char title[TM_PATH_LEN];
                snprintf(title, sizeof title, "%s, %s", ex.name, variant);
                s = plot_training(dir, rdir, title, &no_plot);
            }
            tm_experiment_free(&single);
            snprintf(names[n_abl], sizeof names[n_abl], "%s", bn);
            acc[n_abl++] = r.test.accuracy;
            tm_metrics_free(&r.test);
        }
    }
    if (!writer)
        main_res.stopped_early = 1; /* nothing more to write */
    if (s == TM_OK && !main_res.stopped_early)
        s = tm_write_metrics_json(od.stage, &ex, main_variant, &main_res, &data, names, acc,
                                  n_abl);
    if (s == TM_OK && !main_res.stopped_early) {
        char title[TM_PATH_LEN];
        snprintf(title, sizeof title, "%s, %s", ex.name, main_variant);
        s = plot_training(o->train.out_dir, od.stage, title, &no_plot);
    }
    if (s == TM_OK && no_plot)
        tm_outdir_not_kept(&od, "training.png"); /* not an old picture beside new data */
    if (s == TM_OK && !main_res.stopped_early)
        s = tm_outdir_commit(&od);
    if (s == TM_OK && out && !main_res.stopped_early)
        fprintf(out, "wrote %s/metrics.json and %s\n", o->train.out_dir,
                no_plot ? "training.gp (gnuplot not found: training.png skipped)"
                        : "training.png");
    tm_metrics_free(&main_res.test);
done:
    tm_outdir_abort(&od);
    tm_model_spec_free(&ex.model);
    tm_splits_free(&data);
    return s;
}
