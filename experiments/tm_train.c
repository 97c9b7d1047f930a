#include "tm_train.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tm_checkpoint.h"
#include "tm_csv.h"
#include "tm_dist.h"
#include "tm_fs.h"
#include "tm_log.h"
#include "tm_progress.h"
#include "tm_run_folder.h"

static int file_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

static void join(char *buf, size_t n, const char *dir, const char *file)
{
    snprintf(buf, n, "%s/%s", dir, file);
}

/* ---- training state ---------------------------------------------------- */

typedef struct {
    int epoch;               /* epochs completed */
    tm_rng data_rng;
    tm_rng tape_rng;
    double best_val;
    int best_epoch;
    double train_seconds;
    long samples_seen;
} train_state;

static tm_status save_checkpoint(const char *path, const tm_experiment *e, const tm_model *m,
                                 const tm_optimizer *opt, const train_state *st)
{
    tm_ckpt_writer *w = NULL;
    TM_TRY(tm_ckpt_create(&w, path));
    tm_status s = tm_run_put_model(w, m, e->text, NULL, NULL, NULL, NULL);
    if (s == TM_OK && opt->m)
        s = tm_run_put_params(w, "optimizer/m", m->params, m->n_params, opt->m);
    if (s == TM_OK && opt->v)
        s = tm_run_put_params(w, "optimizer/v", m->params, m->n_params, opt->v);
    if (s == TM_OK)
        s = tm_ckpt_put_attr_int(w, "epoch", st->epoch);
    if (s == TM_OK)
        s = tm_ckpt_put_attr_int(w, "optimizer_step", opt->step);
    if (s == TM_OK)
        s = tm_ckpt_put_attr_u32_array(w, "rng_data", st->data_rng.s, 4);
    if (s == TM_OK)
        s = tm_ckpt_put_attr_u32_array(w, "rng_ops", st->tape_rng.s, 4);
    if (s == TM_OK)
        s = tm_ckpt_put_attr_double(w, "best_val_accuracy", st->best_val);
    if (s == TM_OK)
        s = tm_ckpt_put_attr_int(w, "best_epoch", st->best_epoch);
    if (s == TM_OK)
        s = tm_ckpt_put_attr_double(w, "train_seconds", st->train_seconds);
    if (s == TM_OK)
        s = tm_ckpt_put_attr_int(w, "samples_seen", st->samples_seen);
    if (s != TM_OK) {
        tm_ckpt_abort(w);
        return s;
    }
    return tm_ckpt_commit(w);
}

static tm_status load_checkpoint(const char *path, tm_model *m, tm_optimizer *opt,
                                 train_state *st)
{
    tm_ckpt_reader *r = NULL;
    TM_TRY(tm_ckpt_open(&r, path));
    long long epoch = 0, step = 0, best_epoch = 0, seen = 0;
    tm_status s = tm_run_get_params(r, "model", m->params, m->n_params, NULL);
    if (s == TM_OK)
        s = tm_run_get_params(r, "model", m->buffers, m->n_buffers, NULL);
    if (s == TM_OK && opt->m)
        s = tm_run_get_params(r, "optimizer/m", m->params, m->n_params, opt->m);
    if (s == TM_OK && opt->v)
        s = tm_run_get_params(r, "optimizer/v", m->params, m->n_params, opt->v);
    if (s == TM_OK)
        s = tm_ckpt_get_attr_int(r, "epoch", &epoch);
    if (s == TM_OK)
        s = tm_ckpt_get_attr_int(r, "optimizer_step", &step);
    if (s == TM_OK)
        s = tm_ckpt_get_attr_u32_array(r, "rng_data", st->data_rng.s, 4);
    if (s == TM_OK)
        s = tm_ckpt_get_attr_u32_array(r, "rng_ops", st->tape_rng.s, 4);
    if (s == TM_OK)
        s = tm_ckpt_get_attr_double(r, "best_val_accuracy", &st->best_val);
    if (s == TM_OK)
        s = tm_ckpt_get_attr_int(r, "best_epoch", &best_epoch);
    if (s == TM_OK)
        s = tm_ckpt_get_attr_double(r, "train_seconds", &st->train_seconds);
    if (s == TM_OK)
        s = tm_ckpt_get_attr_int(r, "samples_seen", &seen);
    tm_ckpt_close(r);
    if (s != TM_OK)
        return tm_error_prefix(s, "resuming from %s: ", path);
    st->epoch = (int)epoch;
    st->best_epoch = (int)best_epoch;
    st->samples_seen = (long)seen;
    opt->step = (long)step;
    return TM_OK;
}

/* Keeps the header and the rows of epochs up to `epoch` (a killed run may
 * have logged an epoch whose checkpoint never landed). */
static tm_status trim_log(const char *path, int epoch)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return TM_OK;
    tm_atomic_file o;
    tm_status s = tm_atomic_open(&o, path, "w");
    if (s != TM_OK) {
        fclose(f);
        return s;
    }
    char line[1024];
    int first = 1;
    while (fgets(line, sizeof line, f)) {
        if (first || atoi(line) <= epoch)
            fputs(line, o.f);
        first = 0;
    }
    fclose(f);
    return tm_atomic_close(&o, TM_OK);
}

/* ---- evaluation -------------------------------------------------------- */

typedef struct {
    tm_model *m;
    const tm_dataset *d;
    const int *map;
    float *probs;
    double total;      /* summed loss */
} predict_ctx;

static tm_status predict_gather(void *ctx, tm_tape *t, const int *idx, int n, tm_tensor **x)
{
    predict_ctx *p = ctx;
    for (int b = 0; b < p->m->spec.n_branches; b++) {
        const tm_modality *mod = &p->d->mod[p->map[b]];
        int shape[4] = {n, mod->shape[0], mod->shape[1], mod->shape[2]};
        TM_TRY(tm_arena_tensor(&t->arena, &x[b], 4, shape, 0));
        tm_dataset_gather(p->d, p->map[b], idx, n, x[b]->data);
    }
    return TM_OK;
}

static tm_status predict_forward(void *ctx, tm_tape *t, tm_tensor *const *x, tm_tensor **logits)
{
    return tm_model_forward(((predict_ctx *)ctx)->m, t, x, logits);
}

static tm_status predict_done(void *ctx, tm_tape *t, int start, int n, tm_tensor *logits)
{
    predict_ctx *p = ctx;
    int k = p->m->spec.n_classes;
    tm_tensor *l = NULL;
    TM_TRY(tm_softmax_cross_entropy(t, logits, p->d->label + start, NULL,
                                    p->probs + (size_t)start * k, &l));
    TM_TRY(tm_check_finite(l->data, 1, "evaluation loss"));
    p->total += (double)l->data[0] * n;
    return TM_OK;
}

tm_status tm_predict(tm_model *m, tm_pool *pool, const tm_dataset *d, const int *map,
                     float *probs, double *loss)
{
    predict_ctx p = {m, d, map, probs, 0.0};
    tm_eval_loop l = {d->n, 256, NULL, predict_gather, predict_forward, predict_done};
    tm_status s = tm_eval_batches(pool, &l, &p);
    if (s == TM_OK && loss)
        *loss = p.total / d->n;
    return s;
}

static double accuracy_of(const float *probs, const int *labels, int n, int k)
{
    return n ? (double)tm_top1_right(probs, labels, n, k) / n : 0.0;
}

static void class_weights(const tm_train_spec *ts, const tm_dataset *d, float *w)
{
    int k = d->n_classes;
    if (ts->class_weight_mode == TM_CW_LIST) {
        for (int c = 0; c < k; c++)
            w[c] = ts->class_weights[c];
        return;
    }
    /* balanced: n / (k * count_c), the scikit-learn rule */
    long *count = calloc((size_t)k, sizeof *count);
    if (!count) {
        for (int c = 0; c < k; c++)
            w[c] = 1.0f;
        return;
    }
    for (int i = 0; i < d->n; i++)
        count[d->label[i]]++;
    for (int c = 0; c < k; c++)
        w[c] = count[c] ? (float)((double)d->n / ((double)k * count[c])) : 0.0f;
    free(count);
}

/* ---- the loop ---------------------------------------------------------- */

static tm_status model_forward(void *m, tm_tape *t, tm_tensor *const *x, tm_tensor **logits)
{
    return tm_model_forward(m, t, x, logits);
}

tm_status tm_train_step(tm_model *m, tm_tape *t, tm_optimizer *opt, tm_tensor *const *x,
                        const int *labels, const float *class_weights, float lr, float *probs,
                        float *loss_out)
{
    return tm_train_batch(t, opt, model_forward, m, x, labels, class_weights, lr, probs,
                          loss_out);
}

typedef struct {
    tm_model *m;
    tm_optimizer *opt;
    tm_pool *pool;
    tm_tape tape;
    int *perm, *labels;
    float *probs, *cw;
    float *val_probs;
    int map[TM_MAX_BRANCHES];
    float mean[TM_MAX_BRANCHES], std[TM_MAX_BRANCHES]; /* per branch */
    tm_dataset aug;          /* re-augmented training features, when augmenting */
    tm_dist *dist;           /* data-parallel steps, or NULL */
    int writer;              /* writes the run's files (rank 0) */
} trainer;

static void trainer_free(trainer *tr)
{
    tm_tape_free(&tr->tape);
    tm_optim_free(tr->opt);
    tm_pool_free(tr->pool);
    free(tr->perm);
    free(tr->labels);
    free(tr->probs);
    free(tr->cw);
    free(tr->val_probs);
    tm_dataset_free(&tr->aug);
    if (tr->dist)
        tm_dist_free(tr->dist);
    free(tr->dist);
}

/* The epoch loop's side of float training (tm_train_batches). */
typedef struct {
    trainer *tr;
    const tm_dataset *d;
    train_state *st;
    float lr;
    tm_progress *pg;
} epoch_ctx;

static tm_status epoch_gather(void *ctx, tm_tape *t, const int *idx, int n, tm_tensor **x,
                              int *labels)
{
    const epoch_ctx *c = ctx;
    const trainer *tr = c->tr;
    for (int b = 0; b < tr->m->spec.n_branches; b++) {
        const tm_modality *mod = &c->d->mod[tr->map[b]];
        int shape[4] = {n, mod->shape[0], mod->shape[1], mod->shape[2]};
        TM_TRY(tm_arena_tensor(&t->arena, &x[b], 4, shape, 0));
        tm_dataset_gather(c->d, tr->map[b], idx, n, x[b]->data);
    }
    for (int i = 0; i < n; i++)
        labels[i] = c->d->label[idx[i]];
    return TM_OK;
}

static tm_status epoch_forward(void *ctx, tm_tape *t, tm_tensor *const *x, tm_tensor **logits)
{
    return tm_model_forward(((const epoch_ctx *)ctx)->tr->m, t, x, logits);
}

/* A batch as shards over the ranks; the dropout streams fork the epoch's
 * unchanged state by step. */
static tm_status epoch_dist_step(void *ctx, const int *idx, int n, double *loss_sum,
                                 long *right)
{
    epoch_ctx *c = ctx;
    trainer *tr = c->tr;
    return tm_dist_step(tr->dist, tr->m, &tr->tape, tr->opt, c->d, tr->map, idx, n, tr->cw,
                        &c->st->tape_rng, c->lr, loss_sum, right);
}

static void epoch_after(void *ctx, int batch, long seen, double loss_sum, long right)
{
    epoch_ctx *c = ctx;
    if (c->pg)
        tm_progress_update(c->pg, batch, seen, loss_sum / seen, (double)right / seen);
}

static tm_status train_epoch(trainer *tr, const tm_experiment *e, const tm_dataset *d,
                             train_state *st, float lr, tm_progress *pg, double *loss_out,
                             double *acc_out)
{
    for (int i = 0; i < d->n; i++)
        tr->perm[i] = i;
    tm_rng_shuffle(&st->data_rng, tr->perm, d->n);
    double loss_sum = 0.0;
    long right = 0;
    tr->tape.training = 1;
    tr->tape.rng = st->tape_rng;
    epoch_ctx c = {tr, d, st, lr, pg};
    tm_train_loop l = {d->n,           e->train.batch_size, tr->m->spec.n_classes,
                       tr->perm,       lr,                  tr->cw,
                       tr->labels,     tr->probs,           epoch_gather,
                       epoch_forward,  tr->dist ? epoch_dist_step : NULL,
                       epoch_after};
    tm_status s = tm_train_batches(&tr->tape, tr->opt, &l, &c, &loss_sum, &right);
    if (s != TM_OK)
        return tm_error_prefix(s, "epoch %d ", st->epoch + 1);
    st->samples_seen += d->n;
    if (!tr->dist)
        st->tape_rng = tr->tape.rng;
    *loss_out = loss_sum / d->n;
    *acc_out = (double)right / d->n;
    return TM_OK;
}

static tm_status train_loop(trainer *tr, const tm_experiment *e, const tm_splits *data,
                            const tm_train_options *o, train_state *st, tm_train_result *res)
{
    char ckpt[TM_PATH_LEN], best[TM_PATH_LEN], logp[TM_PATH_LEN];
    join(ckpt, sizeof ckpt, o->out_dir, "checkpoint.h5");
    join(best, sizeof best, o->out_dir, "best.h5");
    join(logp, sizeof logp, o->out_dir, "log.csv");
    FILE *log = tr->writer ? fopen(logp, st->epoch > 0 ? "a" : "w") : NULL;
    if (tr->writer && !log)
        return tm_error(TM_ERR_IO, "%s: cannot write: %s", logp, strerror(errno));
    tm_csv lw;
    tm_csv_init(&lw, log);
    if (log && st->epoch == 0) {
        static const char *const head[] = {"epoch",    "lr",           "train_loss",
                                           "train_accuracy", "val_loss", "val_accuracy",
                                           "epoch_seconds",  "samples_per_s"};
        for (size_t i = 0; i < sizeof head / sizeof *head; i++)
            tm_csv_str(&lw, head[i]);
        tm_csv_end(&lw);
    }
    if (log)
        fflush(log);
    tm_status s = TM_OK;
    const tm_dataset *tr_d = &data->train;
    int epochs = e->train.epochs;
    while (st->epoch < epochs) {
        float lr = tm_schedule_lr(&e->train.schedule, st->epoch);
        tm_progress pg;
        int batches = (tr_d->n + e->train.batch_size - 1) / e->train.batch_size;
        tm_progress_begin(&pg, o->progress, st->epoch + 1, epochs, batches);
        double t0 = tm_now_seconds(), tl = 0, ta = 0, vl = 0;
        if (data->augment) {
            /* Seeded by epoch, so a resumed run draws the same augmentations. */
            tm_rng ar;
            tm_rng_seed(&ar, e->seed * 1000003ull + (uint64_t)st->epoch);
            if ((s = tm_splits_augment(data, &ar, tr->pool, &tr->aug)) != TM_OK)
                break;
            tr_d = &tr->aug;
        }
        s = train_epoch(tr, e, tr_d, st, lr, o->progress ? &pg : NULL, &tl, &ta);
        if (s != TM_OK)
            break;
        double dt = tm_now_seconds() - t0;
        st->train_seconds += dt;
        st->epoch++;
        if (!tr->writer) {
            /* validation, the log and the files are rank 0's */
            if (o->stop_after_epoch && st->epoch >= o->stop_after_epoch && st->epoch < epochs) {
                res->stopped_early = 1;
                break;
            }
            continue;
        }
        s = tm_predict(tr->m, tr->pool, &data->val, tr->map, tr->val_probs, &vl);
        if (s != TM_OK)
            break;
        double va = accuracy_of(tr->val_probs, data->val.label, data->val.n,
                                tr->m->spec.n_classes);
        if (o->progress)
            fprintf(o->progress, "epoch %d/%d: train loss %.4f acc %.4f | val loss %.4f acc "
                                 "%.4f | %.1f s\n",
                    st->epoch, epochs, tl, ta, vl, va, dt);
        tm_csv_int(&lw, st->epoch);
        tm_csv_fmt(&lw, "%g", (double)lr);
        tm_csv_fmt(&lw, "%.6f", tl);
        tm_csv_fmt(&lw, "%.6f", ta);
        tm_csv_fmt(&lw, "%.6f", vl);
        tm_csv_fmt(&lw, "%.6f", va);
        tm_csv_fmt(&lw, "%.3f", dt);
        tm_csv_fmt(&lw, "%.1f", dt > 0 ? tr_d->n / dt : 0.0);
        tm_csv_end(&lw);
        fflush(log);
        if (va > st->best_val || st->best_epoch == 0) {
            st->best_val = va;
            st->best_epoch = st->epoch;
            if (e->train.keep_best &&
                (s = tm_model_save(tr->m, e->text, tr->mean, tr->std, best)) != TM_OK)
                break;
        }
        /* The checkpoint lands last: a run killed before it resumes here. */
        if ((s = save_checkpoint(ckpt, e, tr->m, tr->opt, st)) != TM_OK)
            break;
        if (o->stop_after_epoch && st->epoch >= o->stop_after_epoch && st->epoch < epochs) {
            res->stopped_early = 1;
            break;
        }
    }
    if (s == TM_OK && log && tm_csv_failed(&lw))
        s = tm_error(TM_ERR_IO, "%s: write failed: %s", logp, strerror(errno));
    if (log)
        fclose(log);
    return s;
}

tm_status tm_train(const tm_experiment *e, const tm_model_spec *spec, const tm_splits *data,
                   const tm_train_options *o, tm_model **model_out, tm_train_result *res)
{
    memset(res, 0, sizeof *res);
    if (model_out)
        *model_out = NULL;
    if (!o->out_dir)
        return tm_error(TM_ERR_ARG, "train: no output folder given");
    static const tm_ranks alone = {0, 1, 0};
    const tm_ranks *ranks = o->distributed && o->ranks ? o->ranks : &alone;
    if (ranks->rank == 0)
        TM_TRY(tm_mkdirs(o->out_dir));
    char ckpt[TM_PATH_LEN], best[TM_PATH_LEN], final_path[TM_PATH_LEN];
    join(ckpt, sizeof ckpt, o->out_dir, "checkpoint.h5");
    join(best, sizeof best, o->out_dir, "best.h5");
    join(final_path, sizeof final_path, o->result_dir ? o->result_dir : o->out_dir, "model.h5");
    int have_ckpt = file_exists(ckpt);
    if (have_ckpt && !o->resume && !o->force)
        return tm_error(TM_ERR_ARG, "%s already holds a training run (checkpoint.h5): use "
                                    "--resume to continue it or --force to start over",
                        o->out_dir);

    trainer tr;
    memset(&tr, 0, sizeof tr);
    tr.writer = ranks->rank == 0;
    train_state st;
    memset(&st, 0, sizeof st);
    tm_rng init_rng, base;
    tm_rng_seed(&base, e->seed);
    tm_rng_fork(&base, 1, &init_rng);
    tm_rng_fork(&base, 2, &st.data_rng);
    tm_rng_fork(&base, 3, &st.tape_rng);

    tm_status s = tm_model_build(&tr.m, spec, &init_rng);
    if (s != TM_OK)
        return s;
    int k = tr.m->spec.n_classes;
    const tm_dataset *d = &data->train;
    tm_tensor **params = malloc(sizeof *params * (size_t)tr.m->n_params);
    int *decay = malloc(sizeof *decay * (size_t)tr.m->n_params);
    if (!params || !decay) {
        s = tm_error(TM_ERR_NOMEM, "train: out of memory");
        goto out;
    }
    for (int i = 0; i < tr.m->n_params; i++) {
        params[i] = tr.m->params[i].t;
        decay[i] = tr.m->params[i].decay;
    }
    s = tm_optim_new(&tr.opt, &e->train.optim, params, decay, tr.m->n_params);
    if (s != TM_OK)
        goto out;
    if ((s = tm_pool_new(&tr.pool, e->threads)) != TM_OK)
        goto out;
    tm_tape_init(&tr.tape, tr.pool, 0);
    if ((s = tm_match_branches(e, &tr.m->spec, d, tr.map)) != TM_OK)
        goto out;
    if (d->n_classes != k || data->val.n_classes != k || data->test.n_classes != k) {
        s = tm_error(TM_ERR_CONFIG, "the model has %d classes but the data has %d", k,
                     d->n_classes);
        goto out;
    }
    tr.perm = malloc(sizeof(int) * (size_t)d->n);
    tr.labels = malloc(sizeof(int) * (size_t)e->train.batch_size);
    tr.probs = malloc(sizeof(float) * (size_t)e->train.batch_size * k);
    tr.val_probs = malloc(sizeof(float) * (size_t)data->val.n * k);
    if (!tr.perm || !tr.labels || !tr.probs || !tr.val_probs) {
        s = tm_error(TM_ERR_NOMEM, "train: out of memory");
        goto out;
    }
    if (e->train.class_weight_mode != TM_CW_NONE) {
        if (e->train.class_weight_mode == TM_CW_LIST && e->train.n_class_weights != k) {
            s = tm_error(TM_ERR_CONFIG, "%s: [train] class_weights lists %d weights for %d "
                                        "classes",
                         e->path, e->train.n_class_weights, k);
            goto out;
        }
        if (!(tr.cw = malloc(sizeof(float) * (size_t)k))) {
            s = tm_error(TM_ERR_NOMEM, "train: out of memory");
            goto out;
        }
        class_weights(&e->train, d, tr.cw);
    }
    for (int b = 0; b < tr.m->spec.n_branches; b++) {
        tr.mean[b] = data->mean[tr.map[b]];
        tr.std[b] = data->std[tr.map[b]];
    }
    if (data->augment) {
        int *all = malloc(sizeof(int) * (size_t)d->n);
        if (!all) {
            s = tm_error(TM_ERR_NOMEM, "train: out of memory");
            goto out;
        }
        for (int i = 0; i < d->n; i++)
            all[i] = i;
        s = tm_dataset_subset(d, all, d->n, &tr.aug);
        free(all);
        if (s != TM_OK)
            goto out;
    }
    if (o->distributed) {
        if (!(tr.dist = malloc(sizeof *tr.dist))) {
            s = tm_error(TM_ERR_NOMEM, "train: out of memory");
            goto out;
        }
        s = tm_dist_init(tr.dist, ranks, e->train.shards, e->train.batch_size, tr.m);
        if (s != TM_OK) {
            free(tr.dist);
            tr.dist = NULL;
            goto out;
        }
    }
    if (have_ckpt && o->resume) {
        /* every rank reads rank 0's checkpoint (one shared file system) */
        if ((s = load_checkpoint(ckpt, tr.m, tr.opt, &st)) != TM_OK)
            goto out;
        char logp[TM_PATH_LEN];
        join(logp, sizeof logp, o->out_dir, "log.csv");
        if (tr.writer && (s = trim_log(logp, st.epoch)) != TM_OK)
            goto out;
        if (o->progress)
            fprintf(o->progress, "resuming %s after epoch %d of %d\n", o->out_dir, st.epoch,
                    e->train.epochs);
    }
    if (!tm_ranks_agree(ranks, tm_pool_size(tr.pool))) {
        /* a shard's float sums depend on the threads of the rank that runs it */
        s = tm_error(TM_ERR_CONFIG, "the ranks run different thread counts (rank %d: %d); "
                                    "give --threads",
                     ranks->rank, tm_pool_size(tr.pool));
        goto out;
    }
    if (!tm_ranks_agree(ranks, have_ckpt && o->resume ? st.epoch : -1)) {
        s = tm_error(TM_ERR_IO, "%s: the ranks found different checkpoints (rank %d: %s); "
                                "they need one shared file system",
                     o->out_dir, ranks->rank,
                     have_ckpt && o->resume ? "resumes a checkpoint" : "starts afresh");
        goto out;
    }
    if (o->distributed && o->progress)
        fprintf(o->progress, "distributed: %d shards a batch over %d rank%s, %d thread%s each\n",
                e->train.shards, ranks->size, ranks->size > 1 ? "s" : "", tm_pool_size(tr.pool),
                tm_pool_size(tr.pool) > 1 ? "s" : "");
    if ((s = train_loop(&tr, e, data, o, &st, res)) != TM_OK)
        goto out;
    res->epochs_done = st.epoch;
    res->best_val_accuracy = st.best_val;
    res->best_epoch = st.best_epoch;
    res->train_seconds = st.train_seconds;
    res->samples_per_s = st.train_seconds > 0 ? st.samples_seen / st.train_seconds : 0.0;
    res->params = tm_model_param_count(tr.m);
    res->macs = tm_model_macs(tr.m);
    if (res->stopped_early || !tr.writer)
        goto out;
    if (e->train.keep_best && file_exists(best) &&
        (s = tm_model_load_weights(tr.m, best)) != TM_OK)
        goto out;
    if ((s = tm_model_save(tr.m, e->text, tr.mean, tr.std, final_path)) != TM_OK)
        goto out;
    if ((s = tm_predict(tr.m, tr.pool, &data->val, tr.map, tr.val_probs, NULL)) != TM_OK)
        goto out;
    res->val_accuracy = accuracy_of(tr.val_probs, data->val.label, data->val.n, k);
    {
        float *tp = malloc(sizeof(float) * (size_t)data->test.n * k);
        double tl = 0;
        if (!tp) {
            s = tm_error(TM_ERR_NOMEM, "train: out of memory");
            goto out;
        }
        s = tm_predict(tr.m, tr.pool, &data->test, tr.map, tp, &tl);
        if (s == TM_OK)
            s = tm_metrics_compute(&res->test, data->test.label, tp, data->test.n, k);
        if (s == TM_OK)
            res->test.loss = tl;
        free(tp);
    }
out:
    free(params);
    free(decay);
    if (s == TM_OK && model_out) {
        *model_out = tr.m;
        tr.m = NULL;
    }
    tm_model_free(tr.m);
    trainer_free(&tr);
    return s;
}
