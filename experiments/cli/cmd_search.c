/* tinym2net search: per-layer 8/4-bit precision under a budget of packed
 * weight bytes (docs/quantization.md, "Precision search"). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tm_cli.h"
#include "tm_csv.h"
#include "tm_fs.h"
#include "tm_json.h"
#include "tm_plot.h"
#include "tm_qrun.h"
#include "tm_ranks.h"
#include "tm_search.h"

#define MAX_SETS 64
#define MAX_PARETO 64

static void help(FILE *f)
{
    fprintf(f,
            "usage: tinym2net search RUN_DIR --budget-bytes N --out SDIR [options]\n\n"
            "Chooses 8 or 4 bits for every weight layer of a trained run (RUN_DIR/model.h5)\n"
            "so that the packed weight bytes (weights, int32 biases and per-channel scales:\n"
            "quantize's weight_bytes) fit the budget with the least predicted damage:\n"
            "  1. calibrates activation ranges (as quantize);\n"
            "  2. sensitivity: drops each weight layer alone to 4 bits and measures the rise\n"
            "     of the validation cross-entropy through the integer runtime;\n"
            "  3. picks the bits minimising the summed damage under the budget (an exact\n"
            "     0/1 knapsack by dynamic programming over bytes);\n"
            "  4. fine-tunes that choice with QAT and tests it on the integer runtime, and\n"
            "     does the same with every layer at 4 bits for comparison;\n"
            "  5. sweeps budgets from the all-4-bit to the all-8-bit size (pareto.csv/png).\n"
            "Writes SDIR/model.tm2n, SDIR/qmodel.h5 and SDIR/metrics.json (as quantize,\n"
            "plus the budget and the sensitivity table), SDIR/pareto.csv, SDIR/pareto.gp and\n"
            "SDIR/pareto.png (when gnuplot is installed).\n\n"
            "options:\n"
            "  --budget-bytes N    packed weight bytes allowed (required; at least the\n"
            "                      all-4-bit size)\n"
            "  --out DIR           output folder (required)\n"
            "  --qat-epochs N      QAT epochs for the chosen and the all-4-bit model\n"
            "                      (default 2; 0 = calibration only)\n"
            "  --calib-batches N   training batches observed for calibration (default 100;\n"
            "                      0 = the whole training split)\n"
            "  --pareto-points N   budgets in the sweep, both ends included (default 6)\n"
            "  --pareto-qat        also fine-tune every sweep point (slower)\n"
            "  --json FILE         also write the outcome as JSON: bits per layer, bytes,\n"
            "                      damage, accuracies, the sweep (docs/quantization.md)\n"
            "  --set SEC.KEY=VAL   override a key of the stored experiment (e.g. data paths)\n"
            "  --threads N         worker threads\n"
            "  --distributed       share the sensitivity measurements and the sweep's\n"
            "                      points (without --pareto-qat) over the ranks of\n"
            "                      mpirun / srun; rank 0 fine-tunes and writes SDIR, the\n"
            "                      same files as one process (docs/scale-out.md)\n"
            "  --quiet             no progress output\n"
            "  --force             replace the outputs of an SDIR that already holds them\n"
            "  --help              this text\n");
}

typedef struct {
    const char *run_dir, *out_dir, *json;
    long budget;
    int qat_epochs, calib_batches, pareto_points, pareto_qat, quiet, force, distributed;
    const char *sets[MAX_SETS];
    int n_sets;
    tm_ranks ranks;          /* one process unless --distributed under a launcher */
} options;

typedef struct {
    long budget, bytes;
    double damage, val_loss, val_acc, ptq_acc, qat_acc;
    char bits[256];
} pareto_point;

typedef struct {
    tm_search_layer *layers;
    int n;
    long *b8, *b4;
    double *damage;
    int *bits;
    long all4, all8;
    const char *sens_set;
    tm_qat_data sens;
    tm_dataset sens_subset;
    double base_loss, base_acc;
    tm_search_result res;
    double float_acc, ptq_acc, fake_acc, sim_acc, all4_ptq, all4_acc;
    pareto_point pareto[MAX_PARETO];
    int n_pareto;
    float *snapshot;
    double seconds;
} search;

static void search_free(search *s)
{
    free(s->layers);
    free(s->b8);
    free(s->b4);
    free(s->damage);
    free(s->bits);
    free(s->snapshot);
    tm_dataset_free(&s->sens_subset);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- weights before fine-tuning ----------------------------------------- */

static size_t weights_size(const tm_model *m)
{
    size_t n = 0;
    for (int i = 0; i < m->n_params; i++)
        n += m->params[i].t->size;
    for (int i = 0; i < m->n_buffers; i++)
        n += m->buffers[i].t->size;
    return n;
}

static void copy_weights(tm_model *m, float *buf, int save)
{
    size_t at = 0;
    for (int pass = 0; pass < 2; pass++) {
        const tm_param *ps = pass ? m->buffers : m->params;
        int n = pass ? m->n_buffers : m->n_params;
        for (int i = 0; i < n; i++) {
            tm_tensor *t = ps[i].t;
            if (save)
                memcpy(buf + at, t->data, sizeof(float) * t->size);
            else
                memcpy(t->data, buf + at, sizeof(float) * t->size);
            at += t->size;
        }
    }
}

/* QAT for the current bits from the calibrated float weights, then back to
 * them: the integer test accuracy after fine-tuning. */
static tm_status finetune_and_test(tm_qrun *r, search *s, int epochs, FILE *progress,
                                   double *acc)
{
    tm_status st = tm_qrun_finetune(r, epochs, progress);
    if (st == TM_OK)
        st = tm_qrun_simulate(r, &r->test, acc, NULL);
    copy_weights(r->m, s->snapshot, 0);
    return st;
}

static void bits_string(const int *bits, int n, char *out, size_t cap)
{
    size_t k = 0;
    for (int i = 0; i < n && k + 1 < cap; i++)
        out[k++] = bits[i] == 8 ? '8' : '4';
    out[k] = '\0';
}

/* ---- outputs ------------------------------------------------------------- */

static tm_status write_text_atomic(const char *path, const char *text)
{
    return tm_atomic_write(path, text, strlen(text));
}

static tm_status write_pareto_csv(const char *dir, const search *s, int with_qat)
{
    char path[TM_PATH_LEN + 160];
    snprintf(path, sizeof path, "%s/pareto.csv", dir);
    tm_atomic_file f;
    TM_TRY(tm_atomic_open(&f, path, "w"));
    tm_csv w;
    tm_csv_init(&w, f.f);
    static const char *const head[] = {"budget_bytes", "weight_bytes", "predicted_damage",
                                       "val_loss", "val_accuracy", "test_accuracy"};
    for (size_t i = 0; i < sizeof head / sizeof *head; i++)
        tm_csv_str(&w, head[i]);
    if (with_qat)
        tm_csv_str(&w, "qat_test_accuracy");
    tm_csv_str(&w, "bits");
    tm_csv_end(&w);
    for (int i = 0; i < s->n_pareto; i++) {
        const pareto_point *p = &s->pareto[i];
        tm_csv_int(&w, p->budget);
        tm_csv_int(&w, p->bytes);
        tm_csv_fmt(&w, "%.6f", p->damage);
        tm_csv_fmt(&w, "%.6f", p->val_loss);
        tm_csv_fmt(&w, "%.6f", p->val_acc);
        tm_csv_fmt(&w, "%.6f", p->ptq_acc);
        if (with_qat)
            tm_csv_fmt(&w, "%.6f", p->qat_acc);
        tm_csv_str(&w, p->bits);
        tm_csv_end(&w);
    }
    return tm_atomic_close(&f, tm_csv_failed(&w) ? tm_error(TM_ERR_IO, "%s: write failed", f.tmp)
                                                 : TM_OK);
}

/* The plot script reads pareto.csv from its own folder. */
static tm_status write_pareto_gp(const char *dir, const tm_qrun *r, const search *s,
                                 const options *o)
{
    char name[2 * sizeof r->e.name + 3];
    tm_plot_quote(r->e.name, name, sizeof name);
    char buf[8192];
    size_t cap = sizeof buf, k = 0;
    long chosen = s->res.bytes;
    /* a y axis from 10 points under the lowest accuracy shown to 100 %, so that
     * one test sample does not look like a cliff */
    double lo = s->sim_acc < s->all4_acc ? s->sim_acc : s->all4_acc;
    for (int j = 0; j < s->n_pareto; j++) {
        if (s->pareto[j].ptq_acc < lo)
            lo = s->pareto[j].ptq_acc;
        if (o->pareto_qat && s->pareto[j].qat_acc < lo)
            lo = s->pareto[j].qat_acc;
    }
    int ylo = (int)floor((100.0 * lo - 10.0) / 5.0) * 5;
    if (ylo < 0)
        ylo = 0;
    k += (size_t)snprintf(
        buf + k, cap - k,
        "# tinym2net search: gnuplot pareto.gp (in this folder) writes pareto.png\n"
        "set terminal pngcairo size 900,600 font 'sans,10' noenhanced\n"
        "set output 'pareto.png'\n"
        "set datafile separator ','\n"
        "set datafile columnheaders\n"
        "set title %s.': precision search, integer runtime (%d test samples: one is %.2f "
        "points)'\n"
        "set xlabel 'weight bytes in the model file (packed weights, biases, multipliers, "
        "shifts)'\n"
        "set ylabel 'test accuracy (%%)'\n"
        "set yrange [%d:100]\n"
        "set y2label 'predicted damage (validation cross-entropy rise)'\n"
        "set ytics nomirror\nset y2tics\nset grid\nset key outside below\nset bmargin 7\n"
        "$picked << EOD\nbytes,accuracy\n%ld,%.4f\nEOD\n"
        "$all4 << EOD\nbytes,accuracy\n%ld,%.4f\nEOD\n"
        "set arrow from %ld, graph 0 to %ld, graph 1 nohead dashtype 2 lc rgb 'gray50'\n"
        "set label 'budget' at %ld, graph 0.97 right offset -0.5, 0 textcolor rgb 'gray40'\n"
        "plot 'pareto.csv' using 2:($6*100) with linespoints pt 7 lw 2 "
        "title 'search, calibration only', \\\n",
        name, r->test.n, r->test.n ? 100.0 / r->test.n : 0.0, ylo, chosen, 100.0 * s->sim_acc,
        s->all4, 100.0 * s->all4_acc,
        o->budget, o->budget, o->budget);
    if (o->pareto_qat)
        k += (size_t)snprintf(buf + k, cap - k,
                              "     'pareto.csv' using 2:($7*100) with linespoints "
                              "pt 5 lw 2 title 'search, %d QAT epochs', \\\n",
                              o->qat_epochs);
    k += (size_t)snprintf(
        buf + k, cap - k,
        "     'pareto.csv' using 2:3 axes x1y2 with linespoints pt 6 dashtype 3 "
        "title 'predicted damage', \\\n"
        "     $picked using 1:2 with points pt 9 ps 2.2 lc rgb 'dark-green' "
        "title 'chosen at budget %ld, %d QAT epochs', \\\n"
        "     $all4 using 1:2 with points pt 11 ps 2.2 lc rgb 'red' "
        "title 'all 4-bit, %d QAT epochs'\n",
        o->budget, o->qat_epochs, o->qat_epochs);
    if (k >= cap)
        return tm_error(TM_ERR_INTERNAL, "search: plot script longer than %zu bytes", cap);
    char path[TM_PATH_LEN + 160];
    snprintf(path, sizeof path, "%s/pareto.gp", dir);
    return write_text_atomic(path, buf);
}

/* Runs gnuplot on pareto.gp; *skipped when gnuplot is not installed. */
static tm_status plot(const char *dir, int *skipped)
{
    *skipped = 0;
    if (system("command -v gnuplot >/dev/null 2>&1") != 0) {
        *skipped = 1;
        return TM_OK;
    }
    char quoted[2 * TM_PATH_LEN + 8], cmd[2 * TM_PATH_LEN + 128];
    size_t k = 0;
    quoted[k++] = '\'';
    for (const char *c = dir; *c && k + 6 < sizeof quoted; c++) {
        if (*c == '\'') {
            memcpy(quoted + k, "'\\''", 4);
            k += 4;
        } else {
            quoted[k++] = *c;
        }
    }
    quoted[k++] = '\'';
    quoted[k] = '\0';
    snprintf(cmd, sizeof cmd, "cd %s && gnuplot pareto.gp 2>&1", quoted);
    if (system(cmd) != 0)
        return tm_error(TM_ERR_IO, "%s/pareto.gp: gnuplot failed (pareto.csv and the script "
                                   "are written)",
                        dir);
    return TM_OK;
}

static const char *method_name(tm_search_method m)
{
    return m == TM_SEARCH_DP ? "dynamic programming" : "exhaustive";
}

/* {layer: bits} of an assignment. */
static json_t *bits_object(const search *s, const int *bits)
{
    json_t *b = json_object();
    for (int i = 0; i < s->n && b; i++)
        if (tm_json_set_int(b, s->layers[i].name, bits[i])) {
            json_decref(b);
            return NULL;
        }
    return b;
}

static tm_status write_metrics(const char *dir, const tm_qrun *r, const search *s,
                               const options *o, const tm_metrics *met)
{
    json_t *h = json_object(), *mid = json_object();
    int bad = !h || !mid;
    bad |= tm_json_set_str(h, "preset", "search");
    bad |= tm_json_set_int(h, "budget_bytes", o->budget);
    bad |= tm_json_set_int(h, "qat_epochs", o->qat_epochs);
    bad |= tm_json_set_int(h, "calib_batches", o->calib_batches);
    bad |= tm_json_set_num(h, "float_test_accuracy", s->float_acc, 6);
    bad |= tm_json_set_num(h, "ptq_test_accuracy", s->ptq_acc, 6);
    bad |= tm_json_set_num(h, "fake_quant_test_accuracy", s->fake_acc, 6);
    bad |= tm_json_set_num(h, "all4_test_accuracy", s->all4_acc, 6);
    bad |= tm_json_set_num(h, "all4_ptq_test_accuracy", s->all4_ptq, 6);
    bad |= tm_json_set_int(h, "all4_weight_bytes", s->all4);
    bad |= tm_json_set_int(h, "all8_weight_bytes", s->all8);
    bad |= tm_json_set_num(h, "predicted_damage", s->res.damage, 6);
    bad |= tm_json_set_str(mid, "solver", s->res.method == TM_SEARCH_DP ? "dp" : "exhaustive");
    bad |= tm_json_set_int(mid, "solver_granularity_bytes", s->res.granularity);
    bad |= tm_json_set_num(mid, "search_seconds", s->seconds, 2);
    json_t *sens = json_object(), *layers = json_array();
    bad |= tm_json_set_str(sens, "measured_on", s->sens_set);
    bad |= tm_json_set_int(sens, "samples", s->sens.n);
    bad |= tm_json_set_str(sens, "metric", "cross_entropy");
    bad |= tm_json_set_str(sens, "simulation", "integer runtime");
    bad |= tm_json_set_num(sens, "base_loss", s->base_loss, 6);
    bad |= tm_json_set_num(sens, "base_accuracy", s->base_acc, 6);
    for (int i = 0; i < s->n; i++) {
        const tm_search_layer *l = &s->layers[i];
        json_t *one = json_object();
        bad |= tm_json_set_str(one, "name", l->name);
        bad |= tm_json_set_int(one, "bytes8", l->bytes8);
        bad |= tm_json_set_int(one, "bytes4", l->bytes4);
        bad |= tm_json_set_int(one, "saved_bytes", l->bytes8 - l->bytes4);
        bad |= tm_json_set_num(one, "loss4", l->loss4, 6);
        bad |= tm_json_set_num(one, "accuracy4", l->acc4, 6);
        bad |= tm_json_set_num(one, "damage", l->damage, 6);
        bad |= tm_json_set_int(one, "bits", s->bits[i]);
        bad |= tm_json_push(layers, one);
    }
    bad |= tm_json_set(sens, "layers", layers);
    bad |= tm_json_set(mid, "sensitivity", sens);
    tm_run_metrics mt = {.experiment = r->e.name, .variant = "searched", .head = h, .mid = mid,
                         .data = &r->data, .q = r->q, .model_file_bytes = r->size, .test = met};
    return tm_run_write_metrics(dir, &mt, bad);
}

/* --json FILE: the search's outcome for programs (docs/quantization.md). */
static tm_status write_report(const char *path, const tm_qrun *r, const search *s,
                              const options *o)
{
    json_t *d = tm_json_doc(r->e.name, NULL);
    int bad = !d;
    bad |= tm_json_set_str(d, "run", o->run_dir);
    bad |= tm_json_set_str(d, "out", o->out_dir);
    bad |= tm_json_set_int(d, "budget_bytes", o->budget);
    bad |= tm_json_set_int(d, "weight_bytes", s->res.bytes);
    bad |= tm_json_set_int(d, "all4_weight_bytes", s->all4);
    bad |= tm_json_set_int(d, "all8_weight_bytes", s->all8);
    bad |= tm_json_set_int(d, "model_file_bytes", (long long)r->size);
    bad |= tm_json_set_num(d, "predicted_damage", s->res.damage, 6);
    bad |= tm_json_set(d, "bits", bits_object(s, s->bits));
    json_t *layers = json_array();
    for (int i = 0; i < s->n; i++) {
        const tm_search_layer *l = &s->layers[i];
        json_t *one = json_object();
        bad |= tm_json_set_str(one, "name", l->name);
        bad |= tm_json_set_int(one, "bits", s->bits[i]);
        bad |= tm_json_set_int(one, "bytes", s->bits[i] == 8 ? l->bytes8 : l->bytes4);
        bad |= tm_json_set_int(one, "bytes8", l->bytes8);
        bad |= tm_json_set_int(one, "bytes4", l->bytes4);
        bad |= tm_json_set_num(one, "damage", l->damage, 6);
        bad |= tm_json_set_num(one, "accuracy4", l->acc4, 6);
        bad |= tm_json_push(layers, one);
    }
    bad |= tm_json_set(d, "layers", layers);
    json_t *acc = json_object();
    bad |= tm_json_set_num(acc, "float", s->float_acc, 6);
    bad |= tm_json_set_num(acc, "calibrated", s->ptq_acc, 6);
    bad |= tm_json_set_num(acc, "fake_quant", s->fake_acc, 6);
    bad |= tm_json_set_num(acc, "integer", s->sim_acc, 6);
    bad |= tm_json_set_num(acc, "all4_calibrated", s->all4_ptq, 6);
    bad |= tm_json_set_num(acc, "all4_integer", s->all4_acc, 6);
    bad |= tm_json_set(d, "test_accuracy", acc);
    bad |= tm_json_set_int(d, "qat_epochs", o->qat_epochs);
    bad |= tm_json_set_int(d, "test_samples", r->test.n);
    bad |= tm_json_set_str(d, "sensitivity_on", s->sens_set);
    json_t *pareto = json_array();
    int *bits = malloc(sizeof(int) * (size_t)(s->n ? s->n : 1));
    bad |= !bits;
    for (int j = 0; j < s->n_pareto && bits; j++) {
        const pareto_point *p = &s->pareto[j];
        for (int i = 0; i < s->n; i++)
            bits[i] = p->bits[i] == '8' ? 8 : 4;
        json_t *one = json_object();
        bad |= tm_json_set_int(one, "budget_bytes", p->budget);
        bad |= tm_json_set_int(one, "weight_bytes", p->bytes);
        bad |= tm_json_set_num(one, "predicted_damage", p->damage, 6);
        bad |= tm_json_set_num(one, "val_loss", p->val_loss, 6);
        bad |= tm_json_set_num(one, "val_accuracy", p->val_acc, 6);
        bad |= tm_json_set_num(one, "test_accuracy", p->ptq_acc, 6);
        if (o->pareto_qat)
            bad |= tm_json_set_num(one, "qat_test_accuracy", p->qat_acc, 6);
        bad |= tm_json_set(one, "bits", bits_object(s, bits));
        bad |= tm_json_push(pareto, one);
    }
    free(bits);
    bad |= tm_json_set(d, "pareto", pareto);
    return tm_json_commit(d, bad, path);
}

/* ---- the command --------------------------------------------------------- */

/* The validation split, else up to 1,000 training samples spread over it. */
static tm_status sensitivity_set(tm_qrun *r, search *s)
{
    if (r->val.n > 0) {
        s->sens = r->val;
        s->sens_set = "validation";
        return TM_OK;
    }
    int n = r->data.train.n < 1000 ? r->data.train.n : 1000;
    if (n == 0)
        return tm_error(TM_ERR_ARG, "search: the run has neither validation nor training "
                                    "samples to measure sensitivity on");
    int *idx = malloc(sizeof(int) * (size_t)n);
    if (!idx)
        return tm_error(TM_ERR_NOMEM, "search: out of memory");
    for (int i = 0; i < n; i++)
        idx[i] = (int)((long)i * r->data.train.n / n);
    tm_status st = tm_dataset_subset(&r->data.train, idx, n, &s->sens_subset);
    free(idx);
    TM_TRY(st);
    memset(&s->sens, 0, sizeof s->sens);
    s->sens.n = n;
    s->sens.label = s->sens_subset.label;
    for (int b = 0; b < r->m->spec.n_branches; b++)
        s->sens.x[b] = s->sens_subset.x[r->map[b]];
    s->sens_set = "training (no validation split)";
    return TM_OK;
}

static void print_point(FILE *out, const search *s, int j, const char *note)
{
    const pareto_point *p = &s->pareto[j];
    fprintf(out, "pareto %d/%d: budget %ld -> %ld bytes, bits %s, predicted damage %.4f "
                 "(measured %.4f), test accuracy %.4f%s\n",
            j + 1, s->n_pareto, p->budget, p->bytes, p->bits, p->damage,
            p->val_loss - s->base_loss, p->ptq_acc, note);
}

static tm_status solve(const search *s, long budget, int *bits, tm_search_result *res)
{
    return tm_search_solve(s->n, s->b8, s->b4, s->damage, budget, bits, res);
}

static tm_status run(const options *o, tm_qrun *r, search *s, tm_metrics *met)
{
    FILE *out = o->quiet ? NULL : stderr;
    double t0 = now_s();
    TM_TRY(tm_qrun_open(r, o->run_dir, o->sets, o->n_sets));
    TM_TRY(tm_search_layers(r->q, &s->layers, &s->n));
    int n = s->n;
    s->b8 = malloc(sizeof(long) * (size_t)n);
    s->b4 = malloc(sizeof(long) * (size_t)n);
    s->damage = calloc((size_t)n, sizeof(double));
    s->bits = malloc(sizeof(int) * (size_t)n);
    s->snapshot = malloc(sizeof(float) * (weights_size(r->m) ? weights_size(r->m) : 1));
    if (!s->b8 || !s->b4 || !s->damage || !s->bits || !s->snapshot)
        return tm_error(TM_ERR_NOMEM, "search: out of memory");
    for (int i = 0; i < n; i++) {
        s->b8[i] = s->layers[i].bytes8;
        s->b4[i] = s->layers[i].bytes4;
        s->all4 += s->b4[i];
        s->all8 += s->b8[i];
    }
    /* A budget below the all-4-bit size fails here, before any measurement. */
    TM_TRY(solve(s, o->budget, s->bits, &s->res));
    if (out)
        fprintf(out, "%d weight layers: all 4-bit %ld bytes, all 8-bit %ld bytes, budget %ld\n",
                n, s->all4, s->all8, o->budget);

    TM_TRY(tm_qrun_float_accuracy(r, &s->float_acc));
    TM_TRY(tm_qrun_calibrate(r, o->calib_batches));
    copy_weights(r->m, s->snapshot, 1);
    TM_TRY(sensitivity_set(r, s));
    const tm_ranks *rk = &o->ranks;
    TM_TRY(tm_search_sensitivity_part(r->q, &r->lo, &s->sens, s->layers, n, rk->rank, rk->size,
                                      &s->base_loss, &s->base_acc));
    if (rk->size > 1) {
        double *m = malloc(sizeof(double) * 2 * (size_t)n);
        if (!m)
            return tm_error(TM_ERR_NOMEM, "search: out of memory");
        for (int i = 0; i < n; i++) {
            m[2 * i] = s->layers[i].loss4;
            m[2 * i + 1] = s->layers[i].acc4;
        }
        tm_status sh = tm_ranks_share_doubles(rk, m, 2, n);
        for (int i = 0; i < n; i++) {
            s->layers[i].loss4 = m[2 * i];
            s->layers[i].acc4 = m[2 * i + 1];
            s->layers[i].damage = s->layers[i].loss4 - s->base_loss;
        }
        free(m);
        TM_TRY(sh);
    }
    for (int i = 0; i < n; i++)
        s->damage[i] = s->layers[i].damage;
    TM_TRY(solve(s, o->budget, s->bits, &s->res));
    if (out) {
        fprintf(out, "sensitivity on %d %s samples (integer runtime, after calibration): all "
                     "8-bit loss %.4f, accuracy %.4f\n",
                s->sens.n, s->sens_set, s->base_loss, s->base_acc);
        for (int i = 0; i < n; i++)
            fprintf(out, "  %-24s saves %7ld bytes at 4 bits: loss %+.4f, accuracy %.4f\n",
                    s->layers[i].name, s->b8[i] - s->b4[i], s->layers[i].damage,
                    s->layers[i].acc4);
    }

    /* The sweep, calibration only (optionally fine-tuned per point). */
    s->n_pareto = o->pareto_points;
    int *bits = malloc(sizeof(int) * (size_t)n);
    if (!bits)
        return tm_error(TM_ERR_NOMEM, "search: out of memory");
    tm_status st = TM_OK;
    /* Calibrated points are independent measurements: shared over the ranks.
     * Fine-tuned ones stay with rank 0, in order, as one process runs them. */
    int share = rk->size > 1 && !o->pareto_qat;
    for (int j = 0; j < s->n_pareto && st == TM_OK; j++) {
        pareto_point *p = &s->pareto[j];
        p->budget = s->all4 + (long)((double)(s->all8 - s->all4) * j / (s->n_pareto - 1));
        if (j == s->n_pareto - 1)
            p->budget = s->all8;
        tm_search_result pr;
        st = solve(s, p->budget, bits, &pr);
        if (st != TM_OK)
            break;
        p->bytes = pr.bytes;
        p->damage = pr.damage;
        bits_string(bits, n, p->bits, sizeof p->bits);
        if ((share && j % rk->size != rk->rank) || (!share && rk->rank != 0))
            continue;
        tm_search_apply(r->q, s->layers, n, bits);
        st = tm_search_eval(r->q, &r->lo, &s->sens, &p->val_loss, &p->val_acc);
        if (st == TM_OK)
            st = tm_qrun_simulate(r, &r->test, &p->ptq_acc, NULL);
        if (st == TM_OK && o->pareto_qat)
            st = finetune_and_test(r, s, o->qat_epochs, NULL, &p->qat_acc);
        if (st == TM_OK && out && !share)
            print_point(out, s, j, o->pareto_qat ? " (calibrated)" : "");
    }
    free(bits);
    TM_TRY(st);
    if (share) {
        double m[3 * MAX_PARETO];
        for (int j = 0; j < s->n_pareto; j++) {
            m[3 * j] = s->pareto[j].val_loss;
            m[3 * j + 1] = s->pareto[j].val_acc;
            m[3 * j + 2] = s->pareto[j].ptq_acc;
        }
        TM_TRY(tm_ranks_share_doubles(rk, m, 3, s->n_pareto));
        for (int j = 0; j < s->n_pareto; j++) {
            pareto_point *p = &s->pareto[j];
            p->val_loss = m[3 * j];
            p->val_acc = m[3 * j + 1];
            p->ptq_acc = m[3 * j + 2];
            if (out) {
                char from[48];
                snprintf(from, sizeof from, " (calibrated, rank %d)", j % rk->size);
                print_point(out, s, j, from);
            }
        }
    }
    if (rk->rank != 0)
        return TM_OK; /* rank 0 fine-tunes and writes */

    /* The all-4-bit model of the same net, same calibration and fine-tuning. */
    int *four = malloc(sizeof(int) * (size_t)n);
    if (!four)
        return tm_error(TM_ERR_NOMEM, "search: out of memory");
    for (int i = 0; i < n; i++)
        four[i] = 4;
    tm_search_apply(r->q, s->layers, n, four);
    free(four);
    TM_TRY(tm_qrun_simulate(r, &r->test, &s->all4_ptq, NULL));
    if (out)
        fprintf(out, "all 4-bit: calibrated %.4f; fine-tuning %d epochs\n", s->all4_ptq,
                o->qat_epochs);
    TM_TRY(finetune_and_test(r, s, o->qat_epochs, out, &s->all4_acc));

    /* The chosen assignment, last, so r holds its model. */
    tm_search_apply(r->q, s->layers, n, s->bits);
    char chosen[256];
    bits_string(s->bits, n, chosen, sizeof chosen);
    TM_TRY(tm_qrun_simulate(r, &r->test, &s->ptq_acc, NULL));
    if (out)
        fprintf(out, "chosen %s (%ld bytes): calibrated %.4f; fine-tuning %d epochs\n", chosen,
                s->res.bytes, s->ptq_acc, o->qat_epochs);
    TM_TRY(tm_qrun_finetune(r, o->qat_epochs, out));
    TM_TRY(tm_qat_predict(r->q, r->pool, &r->test, r->probs));
    s->fake_acc = tm_qrun_accuracy(r->probs, r->test.label, r->test.n, r->m->spec.n_classes);
    TM_TRY(tm_qrun_simulate(r, &r->test, &s->sim_acc, met));

    /* Every output changes as one unit (tm_outdir). */
    tm_outdir od;
    TM_TRY(tm_outdir_begin(&od, o->out_dir));
    st = tm_qrun_save(r, od.stage, "search");
    if (st == TM_OK)
        st = write_pareto_csv(od.stage, s, o->pareto_qat);
    if (st == TM_OK)
        st = write_pareto_gp(od.stage, r, s, o);
    int skipped = 0;
    if (st == TM_OK)
        st = plot(od.stage, &skipped);
    if (skipped)
        tm_outdir_not_kept(&od, "pareto.png"); /* not an old picture beside new data */
    s->seconds = now_s() - t0;
    if (st == TM_OK)
        st = write_metrics(od.stage, r, s, o, met);
    if (st != TM_OK) {
        tm_outdir_abort(&od);
        return st;
    }
    TM_TRY(tm_outdir_commit(&od));
    if (o->json)
        TM_TRY(write_report(o->json, r, s, o));

    printf("searched %s under %ld bytes (%s, granularity %ld byte%s):\n", r->e.name, o->budget,
           method_name(s->res.method), s->res.granularity, s->res.granularity == 1 ? "" : "s");
    printf("  %-24s %8s %8s %10s %10s %4s\n", "layer", "bytes8", "bytes4", "damage", "acc4",
           "bits");
    for (int i = 0; i < n; i++)
        printf("  %-24s %8ld %8ld %+10.4f %10.4f %4d\n", s->layers[i].name, s->b8[i], s->b4[i],
               s->damage[i], s->layers[i].acc4, s->bits[i]);
    printf("  weight bytes %ld of %ld (all 4-bit %ld, all 8-bit %ld); predicted damage %.4f\n",
           s->res.bytes, o->budget, s->all4, s->all8, s->res.damage);
    printf("test accuracy (integer runtime, %d QAT epochs): searched %.4f, all 4-bit %.4f "
           "(float %.4f)\n",
           o->qat_epochs, s->sim_acc, s->all4_acc, s->float_acc);
    printf("wrote %s/model.tm2n, qmodel.h5, metrics.json, pareto.csv, pareto.gp%s\n",
           o->out_dir, skipped ? "" : ", pareto.png");
    if (skipped)
        printf("gnuplot not found: pareto.png skipped (run 'gnuplot pareto.gp' in %s)\n",
               o->out_dir);
    if (o->json)
        printf("wrote %s\n", o->json);
    printf("search took %.1f s\n", s->seconds);
    return TM_OK;
}

static int search_main(const options *op);

int tm_cmd_search(int argc, char **argv)
{
    options o;
    memset(&o, 0, sizeof o);
    o.budget = -1;
    o.qat_epochs = 2;
    o.calib_batches = 100;
    o.pareto_points = 6;
    char threads_set[64];
    tm_cli_list set_list = {o.sets, 0, MAX_SETS};
    const tm_cli_option opts[] = {
        TM_CLI_STRING("--out", "-o", &o.out_dir),
        TM_CLI_LONG("--budget-bytes", &o.budget, 1, 1L << 40),
        TM_CLI_INT("--qat-epochs", &o.qat_epochs, 0, 100000),
        TM_CLI_INT("--calib-batches", &o.calib_batches, 0, 100000),
        TM_CLI_INT("--pareto-points", &o.pareto_points, 2, MAX_PARETO),
        TM_CLI_FLAG("--pareto-qat", NULL, &o.pareto_qat),
        TM_CLI_STRING("--json", NULL, &o.json),
        TM_CLI_LIST("--set", &set_list),
        TM_CLI_LIST_PREFIX("--threads", &set_list, "experiment.threads=", threads_set),
        TM_CLI_FLAG("--quiet", "-q", &o.quiet),
        TM_CLI_FLAG("--force", NULL, &o.force),
        TM_CLI_FLAG("--distributed", NULL, &o.distributed),
        {0},
    };
    int rc = tm_cli_parse("search", help, opts, argc, argv, &o.run_dir, 1);
    if (rc)
        return rc == TM_CLI_HELP ? 0 : rc;
    o.n_sets = set_list.n;
    o.ranks.size = 1;
    if (o.distributed) {
        if (tm_ranks_launched() && !tm_ranks_have_mpi()) {
            fprintf(stderr, "tinym2net search: error: --distributed under a launcher, but this "
                            "build has no MPI (TM_WITH_MPI=OFF; docs/scale-out.md)\n");
            return 1;
        }
        if (tm_ranks_init(&o.ranks, &argc, &argv) != TM_OK)
            return tm_cli_fail("search");
        o.quiet |= o.ranks.rank != 0;
    }
    rc = search_main(&o);
    return o.ranks.mpi ? tm_ranks_exit(&o.ranks, rc) : rc;
}

static int search_main(const options *op)
{
    const options o = *op;
    if (!o.out_dir || o.budget < 0) {
        fprintf(stderr, "tinym2net search: %s is required\n",
                !o.out_dir ? "--out SDIR" : "--budget-bytes N");
        return 2;
    }
    if (tm_cli_check_out("search", o.out_dir, "pareto.csv", "a precision search", o.force))
        return 1;
    tm_qrun r;
    search s;
    tm_metrics met;
    memset(&r, 0, sizeof r);
    memset(&s, 0, sizeof s);
    memset(&met, 0, sizeof met);
    tm_status st = run(&o, &r, &s, &met);
    tm_metrics_free(&met);
    search_free(&s);
    tm_qrun_close(&r);
    return st == TM_OK ? 0 : tm_cli_fail("search");
}
