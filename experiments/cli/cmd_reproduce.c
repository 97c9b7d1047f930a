/* tinym2net reproduce: the paper's tables on our data in one command. It
 * runs this program's own train, quantize, search and export commands and
 * tinym2net-run as child processes (each step is exactly what a user would
 * type, and its log is kept), over MPI ranks when launched so, reads their
 * JSON outputs and has the results page written (reproduce_page.c, with the
 * plots of reproduce_plots.c). */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "reproduce.h"
#include "tm_cli.h"
#include "tm_data_load.h"
#include "tm_experiment.h"
#include "tm_fs.h"
#include "tm_json_io.h"
#include "tm_ranks.h"

#ifndef TM_SOURCE_DIR
#define TM_SOURCE_DIR "."
#endif


static void help(FILE *f)
{
    fprintf(f,
            "usage: tinym2net reproduce [options]\n\n"
            "Reproduces the paper's tables on our data: for each data set and seed trains\n"
            "the two single-modality base models (<modality>-base.cfg, e.g. image-base.cfg\n"
            "and audio-base.cfg), the fused base model (fused.cfg) and the fused compressed\n"
            "model (fused-compressed.cfg), quantises each with --preset paper, searches the\n"
            "bit widths of the compressed model under a byte budget, exports every quantised\n"
            "model, runs it with tinym2net-run on the test manifest (and on aarch64 under\n"
            "qemu when the cross tools are installed) and checks the runtime's accuracy\n"
            "equals the integer simulation's. Writes the results page and its PNG plots\n"
            "beside it.\n\n"
            "options:\n"
            "  --data LIST         data sets (default avdigits,avdigits-noisy); each names a\n"
            "                      folder of experiment files under experiments/\n"
            "  --seeds LIST        seeds (default 0,1,2)\n"
            "  --epochs N          training epochs (default: the experiment files')\n"
            "  --out DIR           working folder for runs (default runs/reproduce)\n"
            "  --results FILE      results page (default: the repository's docs/results.md)\n"
            "  --budget-bytes N    packed weight budget of the search (default: midway\n"
            "                      between the compressed model's all-4 and all-8-bit bytes)\n"
            "  --coswara ROOT      import the Coswara folder ROOT (combined_data.csv and\n"
            "                      Extracted_data/, docs/coswara.md) with a 20 %% test split\n"
            "                      and add the data set coswara (experiments/coswara/) to\n"
            "                      the list; --data coswara --coswara ROOT runs it alone\n"
            "  --threads N         worker threads of each step\n"
            "  --qat-epochs N      QAT epochs of quantize and search (default: theirs)\n"
            "  --quick             seed 0, 2 epochs unless --epochs, short calibration and QAT\n"
            "                      (for tests; not a result)\n"
            "  --help              this text\n");
    if (tm_ranks_have_mpi())
        fprintf(f, "\nThis build has MPI: started by mpirun or srun, the jobs are dealt out over\n"
                   "the ranks and rank 0 writes the same page (docs/scale-out.md):\n"
                   "  mpirun -n 4 tinym2net reproduce ...\n");
}

void logf_(opts *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    if (o->log) {
        va_start(ap, fmt);
        vfprintf(o->log, fmt, ap);
        va_end(ap);
        fflush(o->log);
    }
}

/* Runs a shell command; its output goes to the log (or to the file named
 * by out when given). Returns the exit status, -1 when it could not run. */
int sh(opts *o, const char *out, const char *fmt, ...)
{
    char cmd[RP_CMD], full[RP_CMD + RP_PATH + 64];
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    if (w < 0 || (size_t)w >= sizeof cmd)
        return -1;
    /* Over several ranks each command runs once: the rank that ran it leaves
     * a marker (named by the command's hash) and the others take its files. */
    char mark[RP_PATH + 64] = "";
    if (o->memo[0]) {
        /* the command and where its output goes: the same command into another file is
         * another job */
        uint64_t h = 1469598103934665603ull;
        for (const char *c = cmd; *c; c++)
            h = (h ^ (unsigned char)*c) * 1099511628211ull;
        for (const char *c = out ? out : ""; *c; c++)
            h = (h ^ (unsigned char)*c) * 1099511628211ull;
        snprintf(mark, sizeof mark, "%s/%016llx", o->memo, (unsigned long long)h);
        struct stat ms;
        if (stat(mark, &ms) == 0) {
            if (o->log)
                fprintf(o->log, "$ %s\n  (done by another rank)\n", cmd), fflush(o->log);
            return 0;
        }
    }
    if (o->log)
        fprintf(o->log, "$ %s\n", cmd), fflush(o->log);
    char logpath[RP_PATH + 32];
    snprintf(logpath, sizeof logpath, "%s/reproduce.log", o->out);
    if (out)
        snprintf(full, sizeof full, "( %s ) > '%s' 2>> '%s'", cmd, out, logpath);
    else
        snprintf(full, sizeof full, "( %s ) >> '%s' 2>&1", cmd, logpath);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = system(full);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (o->log)
        fprintf(o->log, "  (exit %d, %.1f s)\n", rc == -1 ? -1 : WIFEXITED(rc) ? WEXITSTATUS(rc) : 128,
                (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    if (rc == -1)
        return -1;
    rc = WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
    if (rc == 0 && mark[0]) {
        FILE *m = fopen(mark, "w");
        if (!m || fclose(m) != 0)
            logf_(o, "  cannot write the marker %s: %s (other ranks will run it again)\n", mark,
                  strerror(errno));
    }
    return rc;
}

int mkdirs(const char *dir)
{
    if (tm_mkdirs(dir) == TM_OK)
        return 0;
    fprintf(stderr, "tinym2net reproduce: %s\n", tm_last_error());
    return -1;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *b = malloc(cap);
    size_t got;
    while (b && (got = fread(b + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (n + 1 == cap) {
            char *nb = realloc(b, cap *= 2);
            if (!nb) {
                free(b);
                b = NULL;
            }
            b = nb;
        }
    }
    fclose(f);
    if (b)
        b[n] = '\0';
    return b;
}

/* A JSON file written by a command (metrics.json, tinym2net-run --json); NULL
 * when missing or not JSON, with the reason in the log. */
static json_t *load_json(opts *o, const char *path)
{
    json_t *d = NULL;
    if (tm_json_load(path, &d) != TM_OK)
        logf_(o, "  %s\n", tm_last_error());
    return d;
}

/* "test_confusion": [[..],..] into conf (k x k); returns k or 0. */
static int json_confusion(const json_t *js, int *conf)
{
    const json_t *rows = json_object_get(js, "test_confusion");
    int k = (int)json_array_size(rows);
    if (k < 1 || k > RP_MAX_CLASSES)
        return 0;
    for (int r = 0; r < k; r++) {
        const json_t *row = json_array_get(rows, (size_t)r);
        if ((int)json_array_size(row) != k)
            return 0;
        for (int c = 0; c < k; c++) {
            const json_t *v = json_array_get(row, (size_t)c);
            if (!json_is_integer(v))
                return 0;
            conf[r * k + c] = (int)json_integer_value(v);
        }
    }
    return k;
}

static int parse_list(const char *s, int *v, int max)
{
    int n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        long x = strtol(p, &end, 10);
        if (end == p || x < 0 || x > INT_MAX || n == max)
            return -1;
        v[n++] = (int)x;
        p = end;
        if (*p == ',')
            p++;
        else if (*p)
            return -1;
    }
    return n;
}

void dirname_of(const char *path, char *out, size_t n)
{
    snprintf(out, n, "%s", path);
    char *s = strrchr(out, '/');
    if (s && s != out)
        *s = '\0';
    else if (s)
        s[1] = '\0';
    else
        snprintf(out, n, ".");
}

static void add(series *s, double v)
{
    if (s->n < RP_MAX_SEEDS && !isnan(v))
        s->v[s->n++] = v;
}

double mean_of(const series *s)
{
    double t = 0;
    for (int i = 0; i < s->n; i++)
        t += s->v[i];
    return s->n ? t / s->n : NAN;
}

/* "mean (min-max)" in percent, or "n/a". */
void fmt_series(const series *s, char *buf, size_t n)
{
    if (!s->n) {
        snprintf(buf, n, "n/a");
        return;
    }
    double lo = s->v[0], hi = s->v[0];
    for (int i = 1; i < s->n; i++) {
        lo = s->v[i] < lo ? s->v[i] : lo;
        hi = s->v[i] > hi ? s->v[i] : hi;
    }
    if (s->n == 1)
        snprintf(buf, n, "%.1f %%", 100 * mean_of(s));
    else
        snprintf(buf, n, "%.1f %% (%.1f-%.1f)", 100 * mean_of(s), 100 * lo, 100 * hi);
}

/* Packed weight bytes of the compressed model with every layer at 4 and at
 * 8 bits, from the per-layer rows of a quantize metrics.json. */
static int bytes_4_8(const json_t *js, long *b4, long *b8)
{
    *b4 = *b8 = 0;
    const json_t *layers = json_object_get(js, "layers"), *l;
    size_t i;
    json_array_foreach(layers, i, l) {
        double params = tm_json_num(l, "params"), bits = tm_json_num(l, "bits"),
               packed = tm_json_num(l, "packed_bytes");
        if (isnan(params) || isnan(bits) || isnan(packed))
            return -1;
        long half = (long)params - ((long)params + 1) / 2;
        *b8 += bits == 8 ? (long)packed : (long)packed + half;
        *b4 += bits == 4 ? (long)packed : (long)packed - half;
    }
    return json_array_size(layers) ? 0 : -1;
}

/* tinym2net-run --json: accuracy (right/n), median invoke latency, arena,
 * file bytes. */
static int parse_run(const json_t *js, int *right, int *n, double *lat, long *arena, long *fbytes)
{
    double r = tm_json_num(js, "right"), l = tm_json_num(js, "labelled");
    if (isnan(r) || isnan(l) || l < 1)
        return -1;
    *right = (int)r;
    *n = (int)l;
    *lat = tm_json_num(json_object_get(js, "latency"), "invoke_median_ms");
    double a = tm_json_num(json_object_get(js, "memory"), "arena_bytes");
    double f = tm_json_num(js, "model_file_bytes");
    *arena = isnan(a) ? 0 : (long)a;
    *fbytes = isnan(f) ? 0 : (long)f;
    return 0;
}

/* Same logits rows in both CSV files (x86-64 and aarch64). */
static int same_file(const char *x, const char *y)
{
    char *a = slurp(x), *b = slurp(y);
    int same = a && b && !strcmp(a, b);
    free(a);
    free(b);
    return same;
}

typedef struct {
    char test[TM_PATH_LEN * 2 + 2], label[128];
    const char *fit; /* tinym2net-run's --fit: the experiment's audio branches' */
} manifest_info;

/* The test manifest, label column and audio fit, read the way training
 * reads them (the experiment parser with the same --set overrides). */
static int test_manifest(const data_res *d, const char *cfg, manifest_info *mi)
{
    char set[RP_PATH + 32];
    const char *ov[1] = {set};
    snprintf(set, sizeof set, "data.root=%s", d->root);
    tm_experiment e;
    if (tm_experiment_load(&e, cfg, ov, d->root[0] ? 1 : 0) != TM_OK) {
        fprintf(stderr, "tinym2net reproduce: %s\n", tm_last_error());
        return -1;
    }
    int rc = -1;
    char root[TM_PATH_LEN];
    if (!e.data.test[0])
        fprintf(stderr,
                "tinym2net reproduce: %s: [data] has no test manifest; the runtime check runs "
                "the exported model on its files, so the test set must be a manifest "
                "(test = <csv>), not a fraction\n",
                cfg);
    else if (tm_data_root(&e, root, sizeof root) != TM_OK)
        fprintf(stderr, "tinym2net reproduce: %s\n", tm_last_error());
    else {
        rc = 0;
        if (e.data.test[0] == '/')
            snprintf(mi->test, sizeof mi->test, "%s", e.data.test);
        else
            snprintf(mi->test, sizeof mi->test, "%s/%s", root, e.data.test);
        snprintf(mi->label, sizeof mi->label, "%s", e.data.label_column);
        int center = 0, start = 0;
        for (int b = 0; b < e.model.n_branches; b++)
            if (e.features[b].kind == TM_FEATURE_MFCC || e.features[b].kind == TM_FEATURE_LOGMEL) {
                center += e.features[b].fit == TM_AUDIO_FIT_CENTER;
                start += e.features[b].fit != TM_AUDIO_FIT_CENTER;
            }
        if (center && start) {
            fprintf(stderr, "tinym2net reproduce: %s: its audio branches fit their audio "
                            "differently (start and center); tinym2net-run takes one --fit\n",
                    cfg);
            rc = -1;
        }
        mi->fit = center ? "center" : "start";
    }
    tm_experiment_free(&e);
    return rc;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

/* Fills the model slots from the data set's folder: exactly two
 * <modality>-base.cfg files, fused.cfg and fused-compressed.cfg. */
static int setup_models(data_res *d)
{
    DIR *dir = opendir(d->cfgdir);
    if (!dir) {
        fprintf(stderr, "tinym2net reproduce: %s: no such folder of experiment files\n",
                d->cfgdir);
        return -1;
    }
    char found[8][41];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dir))) {
        size_t L = strlen(e->d_name), S = strlen("-base.cfg");
        if (L > S && L - S < sizeof found[0] && !strcmp(e->d_name + L - S, "-base.cfg")) {
            if (n < 8)
                snprintf(found[n], sizeof found[0], "%.*s", (int)(L - S), e->d_name);
            n++;
        }
    }
    closedir(dir);
    if (n != 2) {
        fprintf(stderr,
                "tinym2net reproduce: %s: found %d single-modality base experiment%s "
                "(<modality>-base.cfg); the tables need exactly two\n",
                d->cfgdir, n, n == 1 ? "" : "s");
        return -1;
    }
    qsort(found, 2, sizeof found[0], name_cmp);
    for (int k = 0; k < 2; k++) {
        snprintf(d->modality[k], sizeof d->modality[k], "%.40s", found[k]);
        snprintf(d->cfg[k], sizeof d->cfg[k], "%.40s-base", found[k]);
        snprintf(d->dir[k], sizeof d->dir[k], "%.40s-base", found[k]);
        snprintf(d->label[k], sizeof d->label[k], "%.40s only (standard conv)", found[k]);
    }
    static const char *cfg[3] = {"fused", "fused-compressed", "fused-compressed"},
                      *dirn[3] = {"fused", "fused-compressed", "fused-compressed-search"},
                      *label[3] = {"fused (standard conv)",
                                   "fused compressed (separable, paper 8/4-bit)",
                                   "fused compressed (separable, searched bits)"};
    for (int k = 0; k < 3; k++) {
        snprintf(d->cfg[M_FUSED + k], sizeof d->cfg[0], "%s", cfg[k]);
        snprintf(d->dir[M_FUSED + k], sizeof d->dir[0], "%s", dirn[k]);
        snprintf(d->label[M_FUSED + k], sizeof d->label[0], "%s", label[k]);
        char path[RP_PATH + 80];
        snprintf(path, sizeof path, "%s/%s.cfg", d->cfgdir, cfg[k]);
        if (access(path, R_OK) != 0) {
            fprintf(stderr, "tinym2net reproduce: %s: %s\n", path, strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* One seed of one model: train (unless given), quantize or search, export,
 * run on the host and under qemu. Returns 0, or -1 after a failure that
 * must stop the reproduction (runtime and simulation disagree). */
static int run_model(opts *o, data_res *d, int mi, int seed, const char *extra)
{
    model_res *r = &d->m[mi];
    char cfg[RP_PATH + 64], base[RP_PATH + 128], run[RP_PATH + 160], q[RP_PATH + 160];
    char sets[RP_PATH + 512] = "";
    snprintf(cfg, sizeof cfg, "%s/%s.cfg", d->cfgdir, d->cfg[mi]);
    snprintf(base, sizeof base, "%s/%s/%s/seed%d", o->out, d->name, d->dir[mi], seed);
    if (mkdirs(base))
        return -1;
    int w = snprintf(sets, sizeof sets, "--set experiment.seed=%d", seed);
    if (o->epochs > 0)
        w += snprintf(sets + w, sizeof sets - (size_t)w, " --set train.epochs=%d", o->epochs);
    if (d->root[0])
        w += snprintf(sets + w, sizeof sets - (size_t)w, " --set 'data.root=%s'", d->root);
    char thr[64] = "";
    if (o->threads)
        snprintf(thr, sizeof thr, "--threads %s", o->threads);
    char qopts[96] = "";
    if (o->quick)
        snprintf(qopts, sizeof qopts, "--qat-epochs %s --calib-batches 5",
                 o->qat_epochs ? o->qat_epochs : "1");
    else if (o->qat_epochs)
        snprintf(qopts, sizeof qopts, "--qat-epochs %s", o->qat_epochs);
    const char *sopts = o->quick ? "--pareto-points 2" : "";

    char js_path[RP_PATH + 200];
    if (mi == M_SEARCH) {
        snprintf(run, sizeof run, "%s/%s/%s/seed%d/run", o->out, d->name, d->dir[M_COMP], seed);
    } else {
        snprintf(run, sizeof run, "%s/run", base);
        logf_(o, "[%s seed %d] train %s\n", d->name, seed, d->cfg[mi]);
        if (sh(o, NULL, "'%s' train '%s' --out '%s' --force --quiet %s %s", o->self, cfg, run, sets,
               thr) != 0) {
            logf_(o, "  training failed (see %s/reproduce.log)\n", o->out);
            snprintf(r->note, sizeof r->note, "training failed at seed %d", seed);
            return 0;
        }
        snprintf(js_path, sizeof js_path, "%s/metrics.json", run);
        json_t *js = load_json(o, js_path);
        double acc = tm_json_num(js, "test_accuracy");
        add(&r->fl, acc);
        r->params = (long)tm_json_num(js, "parameters");
        r->macs = (long)tm_json_num(js, "macs_per_sample");
        if (!isnan(acc) && (r->fl.n == 1 || acc > r->best)) {
            r->best = acc;
            r->k = json_confusion(js, r->conf);
        }
        json_decref(js);
    }
    snprintf(q, sizeof q, "%s/q", base);
    if (mi == M_SEARCH) {
        logf_(o, "[%s seed %d] search (budget %ld bytes)\n", d->name, seed, d->budget);
        if (sh(o, NULL, "'%s' search '%s' --out '%s' %s %ld --force --quiet %s %s %s", o->self, run, q, extra,
               d->budget, qopts, sopts, thr) != 0) {
            logf_(o, "  search failed (see %s/reproduce.log)\n", o->out);
            snprintf(r->note, sizeof r->note, "the search failed at seed %d", seed);
            return 0;
        }
    } else {
        logf_(o, "[%s seed %d] quantize %s --preset paper\n", d->name, seed, d->cfg[mi]);
        if (sh(o, NULL, "'%s' quantize '%s' --out '%s' --preset paper --force --quiet %s %s", o->self, run,
               q, qopts, thr) != 0) {
            logf_(o, "  quantisation failed (see %s/reproduce.log)\n", o->out);
            snprintf(r->note, sizeof r->note, "quantisation failed at seed %d", seed);
            return 0;
        }
    }
    snprintf(js_path, sizeof js_path, "%s/metrics.json", q);
    json_t *qjs = load_json(o, js_path);
    double sim = tm_json_num(qjs, "test_accuracy");
    if (mi == M_SEARCH) {
        add(&r->fl, tm_json_num(qjs, "float_test_accuracy"));
        double a4 = tm_json_num(qjs, "all4_weight_bytes"),
               a8 = tm_json_num(qjs, "all8_weight_bytes");
        if (!isnan(a4) && !isnan(a8))
            snprintf(r->note, sizeof r->note,
                     "the search reports %.0f packed weight bytes with every layer at 4 bits and "
                     "%.0f at 8 bits; the searched model has %ld",
                     a4, a8, (long)tm_json_num(qjs, "weight_bytes"));
        r->params = d->m[M_COMP].params;
        r->macs = d->m[M_COMP].macs;
    }
    add(&r->sim, sim);
    double wb = tm_json_num(qjs, "weight_bytes");
    if (!isnan(wb))
        r->weight_bytes = (long)wb;
    if (mi == M_COMP && d->budget <= 0) {
        long b4, b8;
        if (bytes_4_8(qjs, &b4, &b8) == 0)
            d->budget = (b4 + b8) / 2;
    }
    json_decref(qjs);

    char model[RP_PATH + 200], out_txt[RP_PATH + 200], logits[RP_PATH + 200],
        scores[RP_PATH + 200], inputs[RP_PATH + 200], run_json[RP_PATH + 200];
    snprintf(model, sizeof model, "%s/model.tm2n", base);
    if (sh(o, NULL, "'%s' export '%s' -o '%s' --quiet", o->self, q, model) != 0) {
        logf_(o, "  export failed (see %s/reproduce.log)\n", o->out);
        snprintf(r->note, sizeof r->note, "export failed at seed %d", seed);
        return 0;
    }
    manifest_info man;
    if (test_manifest(d, cfg, &man))
        return -1;
    snprintf(out_txt, sizeof out_txt, "%s/run.txt", base);
    snprintf(logits, sizeof logits, "%s/logits.csv", base);
    snprintf(scores, sizeof scores, "%s/scores.csv", base);
    snprintf(inputs, sizeof inputs, "%s/inputs.bin", base);
    snprintf(run_json, sizeof run_json, "%s/run.json", base);
    int a64 = o->a64_ok;
    if (sh(o, out_txt, "'%s' '%s' --manifest '%s' --label-column '%s' --fit %s --quiet "
                       "--logits '%s' --scores '%s' --json '%s' %s%s%s",
           o->runner, model, man.test, man.label, man.fit, logits, scores, run_json,
           a64 ? "--dump-inputs '" : "",
           a64 ? inputs : "", a64 ? "'" : "") != 0) {
        logf_(o, "  tinym2net-run failed on %s (see %s)\n", model, out_txt);
        return -1;
    }
    json_t *rj = load_json(o, run_json);
    int right = 0, n = 0;
    double lat = NAN;
    long arena = 0, fbytes = 0;
    int pr = parse_run(rj, &right, &n, &lat, &arena, &fbytes);
    json_decref(rj);
    if (pr) {
        logf_(o, "  cannot read tinym2net-run's summary in %s\n", run_json);
        return -1;
    }
    double rt = n ? (double)right / n : NAN;
    add(&r->rt, rt);
    r->latency_ms = isnan(r->latency_ms) || r->latency_ms == 0 || lat < r->latency_ms
                        ? lat
                        : r->latency_ms;
    r->arena = arena;
    r->file_bytes = fbytes;
    int sim_right = (int)lround(sim * n);
    if (isnan(sim) || sim_right != right) {
        logf_(o,
              "tinym2net reproduce: RUNTIME AND SIMULATION DISAGREE: %s seed %d: tinym2net-run "
              "%d/%d right, the integer simulation (%s/metrics.json) %.6f\n",
              model, seed, right, n, q, sim);
        return -1;
    }
    logf_(o, "  float %.4f, integer simulation %.4f, runtime %d/%d (equal)\n",
          r->fl.n ? r->fl.v[r->fl.n - 1] : NAN, sim, right, n);
    if (a64) {
        char a64_csv[RP_PATH + 200];
        snprintf(a64_csv, sizeof a64_csv, "%s/logits-aarch64.csv", base);
        if (sh(o, a64_csv, "qemu-aarch64 -cpu cortex-a72 -L /usr/aarch64-linux-gnu "
                           "'%s/a64/tm_rt_run_inputs' '%s' '%s'",
               o->out, model, inputs) != 0 ||
            !same_file(a64_csv, logits)) {
            logf_(o, "tinym2net reproduce: the aarch64 runtime (qemu) does not print the x86-64 "
                     "logits for %s (%s against %s)\n",
                  model, a64_csv, logits);
            return -1;
        }
        /* Same logits row for row: the same predictions, so the same accuracy. */
        add(&r->a64, rt);
        remove(inputs);
    }
    r->ran = 1;
    return 0;
}

static int search_option(opts *o, char *opt, size_t n)
{
    /* one file per rank: every rank asks at the same moment */
    char help_txt[RP_PATH + 48];
    snprintf(help_txt, sizeof help_txt, "%s/search-help-%d.txt", o->out, o->ranks.rank);
    if (sh(o, help_txt, "'%s' search --help", o->self) != 0)
        return -1;
    char *t = slurp(help_txt);
    int rc = -1;
    if (t && strstr(t, "--budget-bytes"))
        snprintf(opt, n, "--budget-bytes"), rc = 0;
    else if (t && strstr(t, "--budget"))
        snprintf(opt, n, "--budget"), rc = 0;
    free(t);
    return rc;
}

static void run_data(opts *o, data_res *d, int *fatal)
{
    char search_opt[64];
    int have_search = search_option(o, search_opt, sizeof search_opt) == 0;
    if (!have_search)
        snprintf(d->m[M_SEARCH].note, sizeof d->m[M_SEARCH].note,
                 "skipped: this build has no `tinym2net search` command with a byte budget");
    for (int s = 0; s < o->n_seeds && !*fatal; s++)
        for (int mi = 0; mi < M_N && !*fatal; mi++) {
            if (mi == M_SEARCH && (!have_search || !d->m[M_COMP].ran || d->budget <= 0))
                continue;
            if (run_model(o, d, mi, o->seed[s], search_opt))
                *fatal = 1;
        }
}

/* Over several ranks: the jobs (data set x model x seed, in the order of a
 * single-process run) are dealt out in turn; the searches follow once every
 * compressed model is in, as they need its budget. Every rank leaves its
 * files and command markers; rank 0 then collects (run_data again, every
 * command already done), so the page is the single-process page. */
static void run_waves(opts *o, data_res *ds, int nd)
{
    const tm_ranks *r = &o->ranks;
    char search_opt[64];
    int have_search = search_option(o, search_opt, sizeof search_opt) == 0;
    long job = 0;
    for (int i = 0; i < nd; i++)
        for (int s = 0; s < o->n_seeds; s++)
            for (int mi = 0; mi < M_N; mi++)
                if (mi != M_SEARCH && job++ % r->size == r->rank)
                    (void)run_model(o, &ds[i], mi, o->seed[s], search_opt);
    tm_ranks_barrier(r);
    for (int i = 0; i < nd && have_search; i++) {
        data_res *d = &ds[i];
        /* the budget as a single process finds it, from the first seed's
         * compressed model's metrics.json (read, not run again: a failed
         * job gives no budget and no searches, as alone) */
        long budget = o->budget;
        char path[RP_PATH + 200];
        snprintf(path, sizeof path, "%s/%s/%s/seed%d/q/metrics.json", o->out, d->name,
                 d->dir[M_COMP], o->seed[0]);
        json_t *js = budget > 0 ? NULL : load_json(o, path);
        long b4, b8;
        if (js && bytes_4_8(js, &b4, &b8) == 0)
            budget = (b4 + b8) / 2;
        json_decref(js);
        snprintf(path, sizeof path, "%s/%s/%s/seed%d/model.tm2n", o->out, d->name,
                 d->dir[M_COMP], o->seed[0]);
        struct stat st;
        int comp_ran = stat(path, &st) == 0;
        d->budget = budget;
        d->m[M_COMP].ran = comp_ran;
        for (int s = 0; s < o->n_seeds; s++)
            if (job++ % r->size == r->rank && comp_ran && budget > 0)
                (void)run_model(o, d, M_SEARCH, o->seed[s], search_opt);
    }
    tm_ranks_barrier(r);
    for (int i = 0; i < nd; i++) {
        memset(ds[i].m, 0, sizeof ds[i].m);
        ds[i].budget = o->budget;
    }
}

static int find_tools(opts *o)
{
    ssize_t n = readlink("/proc/self/exe", o->self, sizeof o->self - 1);
    if (n <= 0) {
        fprintf(stderr, "tinym2net reproduce: cannot read /proc/self/exe\n");
        return -1;
    }
    o->self[n] = '\0';
    char dir[RP_PATH];
    dirname_of(o->self, dir, sizeof dir);
    snprintf(o->runner, sizeof o->runner, "%.1000s/tinym2net-run", dir);
    if (access(o->runner, X_OK) != 0) {
        fprintf(stderr, "tinym2net reproduce: %s: not found; build the tinym2net-run target "
                        "(it must sit next to tinym2net)\n",
                o->runner);
        return -1;
    }
    /* The source tree (for the cross build): the build folder's CMake cache. */
    char cache[RP_PATH + 32];
    snprintf(cache, sizeof cache, "%s/CMakeCache.txt", dir);
    char *t = slurp(cache);
    const char *p = t ? strstr(t, "CMAKE_HOME_DIRECTORY:INTERNAL=") : NULL;
    if (p) {
        p += strlen("CMAKE_HOME_DIRECTORY:INTERNAL=");
        snprintf(o->src, sizeof o->src, "%.*s", (int)strcspn(p, "\r\n"), p);
    }
    free(t);
    return 0;
}

static void setup_a64(opts *o)
{
    o->a64_ok = 0;
    if (sh(o, NULL, "command -v qemu-aarch64 && command -v aarch64-linux-gnu-gcc") != 0) {
        snprintf(o->a64_note, sizeof o->a64_note,
                 "not run (qemu-aarch64 or aarch64-linux-gnu-gcc is not installed)");
        return;
    }
    if (!o->src[0]) {
        snprintf(o->a64_note, sizeof o->a64_note,
                 "not run (no source tree found beside the tinym2net binary)");
        return;
    }
    if (sh(o, NULL, "bash '%s/runtime/tools/cross.sh' program aarch64 '%s/a64' "
                    "'%s/runtime/tools/tm_rt_run_inputs.c'",
           o->src, o->out, o->src) != 0) {
        snprintf(o->a64_note, sizeof o->a64_note,
                 "not run (the aarch64 cross build failed; see the log)");
        return;
    }
    o->a64_ok = 1;
}

/* Imports the Coswara folder into <out>/coswara-data/coswara/ with a held-out
 * test split, where the coswara experiments then read it ([data] root). */
static int import_coswara(opts *o, data_res *d)
{
    char dir[RP_PATH + 32], txt[RP_PATH + 48];
    snprintf(d->root, sizeof d->root, "%s/coswara-data", o->out);
    snprintf(dir, sizeof dir, "%s/coswara", d->root);
    snprintf(txt, sizeof txt, "%s/import.txt", dir);
    if (mkdirs(dir))
        return -1;
    time_t t0 = time(NULL);
    logf_(o, "[coswara] import %s (20 %% of each class held out for testing)\n", o->coswara);
    if (sh(o, txt, "'%s' import-coswara '%s' --out '%s/manifest.csv' --test-fraction 0.2 "
                   "--split-seed 0 --check-audio --force 2>&1",
           o->self, o->coswara, dir) == 0) {
        d->wall += difftime(time(NULL), t0);
        return 0;
    }
    char *msg = slurp(txt);
    const char *e = msg ? strstr(msg, "error: ") : NULL;
    logf_(o, "tinym2net reproduce: the Coswara import of %s failed: %s", o->coswara,
          e ? e + 7 : "see the log\n");
    if (e && strstr(e, "each class needs at least 2"))
        logf_(o, "(the reproduction needs at least two positive and two negative participants "
                 "with usable recordings: the full data set of docs/coswara.md, not a layout "
                 "sample)\n");
    free(msg);
    return -1;
}

static int has_quote(const char *s)
{
    return s && strchr(s, '\'') != NULL;
}

int tm_cmd_reproduce(int argc, char **argv)
{
    opts o;
    memset(&o, 0, sizeof o);
    o.datasets = "avdigits,avdigits-noisy";
    o.seeds = "0,1,2";
    o.out = "runs/reproduce";
    /* The repository's files wherever the command runs from. */
    o.results = TM_SOURCE_DIR "/docs/results.md";
    o.configs = TM_SOURCE_DIR "/experiments";
    int qat_epochs = -1;
    const tm_cli_option opts[] = {
        TM_CLI_STRING("--data", NULL, &o.datasets),
        TM_CLI_STRING("--seeds", NULL, &o.seeds),
        TM_CLI_INT("--epochs", &o.epochs, 1, 100000),
        TM_CLI_STRING("--out", NULL, &o.out),
        TM_CLI_STRING("--results", NULL, &o.results),
        TM_CLI_LONG("--budget-bytes", &o.budget, 1, LONG_MAX),
        TM_CLI_STRING("--coswara", NULL, &o.coswara),
        TM_CLI_STRING("--threads", NULL, &o.threads),
        TM_CLI_INT("--qat-epochs", &qat_epochs, 0, 1000),
        TM_CLI_STRING("--configs", NULL, &o.configs), /* hidden: the tests' experiment files */
        TM_CLI_FLAG("--quick", NULL, &o.quick),
        {0}};
    int rc = tm_cli_parse("reproduce", help, opts, argc, argv, NULL, 0);
    if (rc)
        return rc == TM_CLI_HELP ? 0 : rc;
    /* Values go into shell commands inside single quotes. */
    const char *strs[] = {o.datasets, o.seeds, o.out, o.results, o.coswara, o.threads, o.configs};
    for (size_t k = 0; k < sizeof strs / sizeof *strs; k++)
        if (has_quote(strs[k])) {
            fprintf(stderr, "tinym2net reproduce: quotes are not allowed in '%s'\n", strs[k]);
            return 2;
        }
    char qat_buf[16];
    if (qat_epochs >= 0) {
        snprintf(qat_buf, sizeof qat_buf, "%d", qat_epochs);
        o.qat_epochs = qat_buf;
    }
    if (o.quick) {
        if (!o.epochs)
            o.epochs = 2;
        o.seeds = "0";
    }
    o.n_seeds = parse_list(o.seeds, o.seed, RP_MAX_SEEDS);
    if (o.n_seeds < 1) {
        fprintf(stderr, "tinym2net reproduce: --seeds needs a list like 0,1,2 (at most %d)\n",
                RP_MAX_SEEDS);
        return 2;
    }
    /* --coswara adds the data set unless --data already names it. */
    char datasets[1024];
    snprintf(datasets, sizeof datasets, "%s", o.datasets);
    if (o.coswara) {
        int listed = 0;
        for (const char *q = datasets; *q;) {
            size_t L = strcspn(q, ",");
            listed |= L == 7 && !strncmp(q, "coswara", 7);
            q += L + (q[L] == ',');
        }
        if (!listed) {
            size_t L = strlen(datasets);
            snprintf(datasets + L, sizeof datasets - L, "%scoswara", L ? "," : "");
        }
    }
    if (tm_ranks_init(&o.ranks, &argc, &argv) != TM_OK)
        return tm_cli_fail("reproduce");
    const int lead = o.ranks.rank == 0, many = o.ranks.size > 1;
    if (find_tools(&o) || (lead && mkdirs(o.out)))
        return tm_ranks_exit(&o.ranks, 1);
    char logpath[RP_PATH + 32];
    snprintf(logpath, sizeof logpath, "%s/reproduce.log", o.out);
    if (many) {
        /* a fresh set of command markers, made before any rank runs a command */
        snprintf(o.memo, sizeof o.memo, "%s/.ranks-done", o.out);
        if (lead) {
            char rm[RP_PATH + 64];
            snprintf(rm, sizeof rm, "rm -rf '%s'", o.memo);
            if (system(rm) != 0 || mkdirs(o.memo))
                return tm_ranks_exit(&o.ranks, 1);
        }
    }
    /* Append mode: the child steps append to the same file through the
     * shell, and our writes must land after theirs, not over them. */
    o.log = lead ? fopen(logpath, "w") : NULL;
    if (o.log)
        o.log = freopen(logpath, "a", o.log);
    if (lead && many)
        logf_(&o, "reproduce: %d ranks (MPI); the jobs are dealt out in turn\n", o.ranks.size);
    /* The lead's set-up (the aarch64 build, the Coswara import) before the
     * others repeat it, each command then already done. */
    if (many && !lead) {
        tm_ranks_barrier(&o.ranks);
        o.log = fopen(logpath, "a");
    }
    char cmdline[4096] = "tinym2net";
    for (int i = 0; i < argc; i++) {
        size_t L = strlen(cmdline);
        snprintf(cmdline + L, sizeof cmdline - L, " %s", argv[i]);
    }
    time_t t0 = time(NULL);
    char date[64];
    strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime(&t0));
    struct timespec ts0, ts1;
    clock_gettime(CLOCK_MONOTONIC, &ts0);
    setup_a64(&o);

    data_res *ds = calloc(RP_MAX_DATA, sizeof *ds);
    int nd = 0, fatal = 0;
    if (!ds)
        return tm_ranks_exit(&o.ranks, 1);
    const char *p = datasets;
    while (*p && nd < RP_MAX_DATA) {
        size_t L = strcspn(p, ",");
        data_res *d = &ds[nd];
        snprintf(d->name, sizeof d->name, "%.*s", (int)L, p);
        snprintf(d->cfgdir, sizeof d->cfgdir, "%s/%s", o.configs, d->name);
        d->budget = o.budget;
        struct stat st;
        if (stat(d->cfgdir, &st) != 0 || !S_ISDIR(st.st_mode) || setup_models(d)) {
            if (stat(d->cfgdir, &st) != 0 || !S_ISDIR(st.st_mode))
                fprintf(stderr, "tinym2net reproduce: %s: no such folder of experiment files\n",
                        d->cfgdir);
            free(ds);
            if (o.log)
                fclose(o.log);
            return tm_ranks_exit(&o.ranks, 2);
        }
        if (o.coswara && !strcmp(d->name, "coswara") && import_coswara(&o, d)) {
            free(ds);
            if (o.log)
                fclose(o.log);
            return tm_ranks_exit(&o.ranks, 1);
        }
        nd++;
        p += L;
        if (*p == ',')
            p++;
    }
    if (many && lead)
        tm_ranks_barrier(&o.ranks);
    if (many) {
        run_waves(&o, ds, nd);
        if (!lead) {
            free(ds);
            if (o.log)
                fclose(o.log);
            tm_ranks_finalize(&o.ranks);
            return 0;
        }
    }
    for (int i = 0; i < nd && !fatal; i++) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        run_data(&o, &ds[i], &fatal);
        clock_gettime(CLOCK_MONOTONIC, &b);
        ds[i].wall += (double)(b.tv_sec - a.tv_sec) + 1e-9 * (double)(b.tv_nsec - a.tv_nsec);
    }
    clock_gettime(CLOCK_MONOTONIC, &ts1);
    double wall = (double)(ts1.tv_sec - ts0.tv_sec) + 1e-9 * (double)(ts1.tv_nsec - ts0.tv_nsec);
    char dir[RP_PATH];
    dirname_of(o.results, dir, sizeof dir);
    mkdirs(dir);
    rp_write_results(&o, ds, nd, cmdline, date, wall, fatal);
    logf_(&o, "reproduce: %.0f s wall time%s\n", wall, fatal ? ", STOPPED ON AN ERROR" : "");
    free(ds);
    if (o.log)
        fclose(o.log);
    tm_ranks_finalize(&o.ranks);
    return fatal ? 1 : 0;
}
