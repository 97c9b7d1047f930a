/* tinym2net-run: runs an exported model on the host the way a device does,
 * over the rows of a manifest (docs/deployment.md).
 *
 * The host's part is decoding files (libsndfile, libpng through data/) into
 * raw PCM at the model's rate and length, or pixels 0..1; everything after
 * that - the audio front end, standardisation, quantisation, the integer
 * network - is the runtime's, on one memory block allocated once. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tm_audio.h"
#include "tm_csv.h"
#include "tm_file_set.h"
#include "tm_fs.h"
#include "tm_image.h"
#include "tm_json_io.h"
#include "tm_manifest.h"
#include "tm_plot.h"
#include "tm_rt_model.h"
#include "tm_status.h"
#include "tm_suggest.h"
#include "tm_version.h"

#define RUN_MAX_COLUMNS 8
/* --dump-inputs files (read by runtime/tools/tm_rt_run_inputs.c). */
#define RUN_INPUTS_MAGIC 0x49524D54u /* "TMRI" */

static void help(FILE *f)
{
    fprintf(f,
            "usage: tinym2net-run MODEL --manifest CSV [options]\n\n"
            "Runs a model written by `tinym2net export` on every row of a manifest: each\n"
            "model input reads the file in the column of the same name (audio decoded to\n"
            "the model's sample rate and length, images to its size), the runtime does the\n"
            "rest. Prints accuracy against the label column (labels are the model's class\n"
            "names), the median latency per inference and the memory the runtime uses.\n\n"
            "options:\n"
            "  --manifest CSV        the rows to run (required)\n"
            "  --root DIR            folder relative file paths start from (default: the\n"
            "                        manifest's folder)\n"
            "  --label-column NAME   default: the model's (the training manifest's), else\n"
            "                        'label'; a manifest without it gives no accuracy\n"
            "  --column INPUT=COL    read model input INPUT from column COL (default: the\n"
            "                        training manifest's column, stored in the model)\n"
            "  --fit start|center    only checked: audio is cut or padded by the model's\n"
            "                        rule; a different value is an error\n"
            "  --skip-bad-rows       skip a row whose file cannot be decoded or whose label\n"
            "                        is unknown, listing it (file:line, file, reason)\n"
            "  --scores FILE         CSV: row, label, predicted, one score per class\n"
            "  --logits FILE         CSV: row, the int8 logits\n"
            "  --json FILE           the summary as JSON: accuracy, per-class counts and\n"
            "                        confusion, latency, memory (docs/deployment.md)\n"
            "  --repeat N            time each row N times (default 1)\n"
            "  --confusion F.png     draw the confusion matrix of the labelled rows (gnuplot;\n"
            "                        F.gp and F.dat beside it)\n"
            "  --dump-inputs FILE    write the decoded raw inputs for a device-side run\n"
            "                        (runtime/tools/tm_rt_run_inputs.c)\n"
            "  --quiet               only the summary lines\n"
            "  --help                this text\n");
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
    if (n == 0)
        return 0.0;
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

typedef struct {
    const char *model, *manifest, *root, *label_col, *scores, *logits, *dump, *json, *confusion;
    const char *columns[RUN_MAX_COLUMNS];
    int n_columns, repeat, quiet, skip_bad_rows;
    int fit;                 /* -1: not given, else tm_rt_input_fit */
} options;

typedef struct {
    uint8_t *file;           /* the model bytes (4-byte aligned: records are read in place) */
    void *mem;               /* the runtime's block, allocated once */
    float *raw[TM_RT_MAX_MODEL_INPUTS];
    double *t_invoke, *t_total;
    long *confusion;         /* k x k, rows = label, for --json */
    tm_manifest man;
    int have_man;
    FILE *scores, *logits, *dump;
} state;

static void state_free(state *st)
{
    for (int i = 0; i < TM_RT_MAX_MODEL_INPUTS; i++)
        free(st->raw[i]);
    free(st->t_invoke);
    free(st->t_total);
    free(st->confusion);
    free(st->mem);
    free(st->file);
    if (st->have_man)
        tm_manifest_free(&st->man);
    if (st->scores)
        fclose(st->scores);
    if (st->logits)
        fclose(st->logits);
    if (st->dump)
        fclose(st->dump);
}

static tm_status load_model(const char *path, state *st, size_t *n)
{
    /* An export killed between its renames is finished first (tm_file_set). */
    int finished = 0;
    tm_status rs = tm_file_set_recover(&path, 1, &finished);
    if (rs != TM_OK)
        fprintf(stderr, "tinym2net-run: warning: %s\n", tm_last_error());
    else if (finished)
        fprintf(stderr, "tinym2net-run: %s: finished an interrupted export\n", path);
    return tm_read_file_aligned(path, &st->file, n);
}

static FILE *open_out(const char *path, tm_status *s)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        *s = tm_error(TM_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
    return f;
}

static void put_u32(FILE *f, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    fwrite(b, 1, 4, f);
}

/* The path of row r's file in column c: --root, else the manifest's folder. */
static tm_status cell_path(const options *o, const tm_manifest *m, int r, int c, char *buf,
                           size_t n)
{
    if (!o->root)
        return tm_manifest_path(m, r, c, buf, n);
    const char *v = tm_manifest_cell(m, r, c);
    if (!v || !v[0])
        return tm_error(TM_ERR_FORMAT, "%s:%d: empty path in column '%s'", m->path, m->line[r],
                        m->col[c]);
    int w = v[0] == '/' ? snprintf(buf, n, "%s", v) : snprintf(buf, n, "%s/%s", o->root, v);
    if (w < 0 || (size_t)w >= n)
        return tm_error(TM_ERR_ARG, "%s:%d: path '%s' is too long", m->path, m->line[r], v);
    return TM_OK;
}

typedef struct {
    int rows, labelled, right, skipped;
    size_t inferences;
    double invoke_s, total_s;
    size_t memory_bytes, file_bytes;
    const char *label_column;
} run_summary;

/* --json FILE: the printed summary for programs (docs/deployment.md). */
static tm_status write_report(const options *o, const tm_rt_model *m,
                              const char (*names)[TM_RT_NAME_LEN + 1], const long *confusion,
                              const run_summary *r)
{
    int k = (int)m->n_classes;
    json_t *d = json_object();
    int bad = !d;
    bad |= tm_json_set_str(d, "model", o->model);
    bad |= tm_json_set_str(d, "manifest", o->manifest);
    bad |= tm_json_set_int(d, "model_file_bytes", (long long)r->file_bytes);
    json_t *ins = json_array(), *cls = json_array();
    for (uint32_t i = 0; i < m->n_inputs; i++)
        bad |= tm_json_push(ins, tm_json_text(m->inputs[i].name, TM_RT_NAME_LEN));
    for (int c = 0; c < k; c++)
        bad |= tm_json_push(cls, tm_json_text(names[c], TM_RT_NAME_LEN));
    bad |= tm_json_set(d, "inputs", ins);
    bad |= tm_json_set(d, "classes", cls);
    bad |= tm_json_set_int(d, "ops", m->n_ops);
    bad |= tm_json_set_int(d, "rows", r->rows);
    bad |= tm_json_set_int(d, "skipped_rows", r->skipped);
    bad |= tm_json_set_str(d, "label_column", r->label_column);
    bad |= tm_json_set_int(d, "labelled", r->labelled);
    bad |= tm_json_set_int(d, "right", r->right);
    bad |= tm_json_set(d, "accuracy", r->labelled ? tm_json_number((double)r->right / r->labelled, -1)
                                                  : json_null());
    json_t *lat = json_object();
    bad |= tm_json_set_int(lat, "inferences", (long long)r->inferences);
    bad |= tm_json_set_num(lat, "invoke_median_ms", 1e3 * r->invoke_s, 6);
    bad |= tm_json_set_num(lat, "total_median_ms", 1e3 * r->total_s, 6);
    bad |= tm_json_set(d, "latency", lat);
    json_t *mem = json_object();
    bad |= tm_json_set_int(mem, "memory_bytes", (long long)r->memory_bytes);
    bad |= tm_json_set_int(mem, "arena_bytes", m->arena_bytes);
    bad |= tm_json_set_int(mem, "scratch_bytes", m->scratch_need);
    bad |= tm_json_set_int(mem, "workspace_bytes", m->workspace_bytes);
    bad |= tm_json_set(d, "memory", mem);
    if (r->labelled) {
        json_t *per = json_object(), *conf = json_array();
        for (int c = 0; c < k; c++) {
            long support = 0, predicted = 0;
            json_t *row = json_array();
            for (int j = 0; j < k; j++) {
                support += confusion[(size_t)c * k + j];
                predicted += confusion[(size_t)j * k + c];
                bad |= tm_json_push(row, json_integer(confusion[(size_t)c * k + j]));
            }
            bad |= tm_json_push(conf, row);
            json_t *one = json_object();
            bad |= tm_json_set_int(one, "support", support);
            bad |= tm_json_set_int(one, "right", confusion[(size_t)c * k + c]);
            bad |= tm_json_set_int(one, "predicted", predicted);
            bad |= tm_json_set(per, names[c], one);
        }
        bad |= tm_json_set(d, "per_class", per);
        bad |= tm_json_set(d, "confusion", conf);
    }
    tm_status s = TM_OK;
    FILE *f = bad ? NULL : open_out(o->json, &s);
    if (bad)
        s = tm_error(TM_ERR_NOMEM, "%s: out of memory building the JSON", o->json);
    if (f) {
        s = tm_json_put(f, d, o->json);
        if (fclose(f) != 0 && s == TM_OK)
            s = tm_error(TM_ERR_IO, "%s: write failed: %s", o->json, strerror(errno));
    }
    json_decref(d);
    return s;
}

static tm_status run(const options *o, state *st)
{
    size_t size = 0;
    TM_TRY(load_model(o->model, st, &size));
    tm_rt_model m;
    if (tm_rt_model_open(&m, st->file, size) != TM_RT_OK)
        return tm_error(TM_ERR_FORMAT, "%s: not a valid model: %s", o->model,
                        tm_rt_model_error(&m));
    size_t mem_bytes = tm_rt_model_memory_bytes(&m);
    if (!(st->mem = malloc(mem_bytes)))
        return tm_error(TM_ERR_NOMEM, "%s: out of memory for %zu bytes", o->model, mem_bytes);
    memset(st->mem, 0, mem_bytes);

    TM_TRY(tm_manifest_load(&st->man, o->manifest));
    st->have_man = 1;
    const tm_manifest *man = &st->man;
    int col[TM_RT_MAX_MODEL_INPUTS];
    size_t n_raw[TM_RT_MAX_MODEL_INPUTS];
    for (uint32_t i = 0; i < m.n_inputs; i++) {
        const tm_rt_input_desc *in = &m.inputs[i];
        const char *want = in->column[0] ? in->column : in->name;
        for (int k = 0; k < o->n_columns; k++) {
            size_t len = strcspn(o->columns[k], "=");
            if (strlen(in->name) == len && !strncmp(o->columns[k], in->name, len))
                want = o->columns[k] + len + 1;
        }
        if (in->kind == TM_RT_INPUT_FEATURES)
            return tm_error(TM_ERR_ARG, "%s: input '%s' takes ready features, not a file; export "
                                        "the model with raw inputs (tinym2net export, the "
                                        "default)",
                            o->model, in->name);
        if (o->fit >= 0 && in->kind == TM_RT_INPUT_AUDIO && in->fit != o->fit)
            return tm_error(TM_ERR_ARG, "%s: --fit %s, but input '%s' was trained with fit = %s "
                                        "(stored in the model); drop --fit",
                            o->model, o->fit == TM_RT_FIT_CENTER ? "center" : "start", in->name,
                            in->fit == TM_RT_FIT_CENTER ? "center" : "start");
        if ((col[i] = tm_manifest_column(man, want)) < 0)
            return tm_error(TM_ERR_FORMAT, "%s: no column '%s' for model input '%s' (use --column "
                                           "%s=COLUMN)",
                            o->manifest, want, in->name, in->name);
        n_raw[i] = tm_rt_model_input_floats(&m, (int)i);
        if (!(st->raw[i] = malloc(sizeof(float) * n_raw[i])))
            return tm_error(TM_ERR_NOMEM, "out of memory");
    }
    const char *label_name = o->label_col ? o->label_col
                             : m.label_column[0] ? m.label_column
                                                 : "label";
    int label_col = tm_manifest_column(man, label_name);
    if (label_col < 0 && strcmp(label_name, "label"))
        return tm_error(TM_ERR_FORMAT, "%s: no label column '%s'%s", o->manifest, label_name,
                        o->label_col ? "" : " (the model's; use --label-column)");
    /* "known classes: a, b, c" for an unknown label's message. */
    char known[1024];
    size_t kn = 0;
    known[0] = '\0';
    for (uint32_t c = 0; c < m.n_classes && kn + 4 < sizeof known; c++) {
        int w = snprintf(known + kn, sizeof known - kn, "%s%s", c ? ", " : "", m.class_names[c]);
        kn = w < 0 || (size_t)w >= sizeof known - kn ? sizeof known : kn + (size_t)w;
    }
    int rows = man->n_rows, k = (int)m.n_classes;
    size_t timings = (size_t)rows * (size_t)o->repeat;
    st->t_invoke = malloc(sizeof(double) * (timings ? timings : 1));
    st->t_total = malloc(sizeof(double) * (timings ? timings : 1));
    if (!st->t_invoke || !st->t_total)
        return tm_error(TM_ERR_NOMEM, "out of memory");

    if (!(st->confusion = calloc((size_t)k * (size_t)k, sizeof(long))))
        return tm_error(TM_ERR_NOMEM, "out of memory");
    /* Class names are NUL-padded to TM_RT_NAME_LEN, not always terminated. */
    char names[TM_RT_MAX_CLASSES][TM_RT_NAME_LEN + 1];
    for (int c = 0; c < k; c++)
        snprintf(names[c], sizeof names[c], "%.*s", TM_RT_NAME_LEN, m.class_names[c]);
    tm_status s = TM_OK;
    tm_csv sw, lw;
    tm_csv_init(&sw, NULL);
    tm_csv_init(&lw, NULL);
    if (o->scores && (st->scores = open_out(o->scores, &s))) {
        tm_csv_init(&sw, st->scores);
        tm_csv_str(&sw, "row");
        tm_csv_str(&sw, "label");
        tm_csv_str(&sw, "predicted");
        for (int c = 0; c < k; c++)
            tm_csv_str(&sw, names[c]);
        tm_csv_end(&sw);
    }
    if (s == TM_OK && o->logits && (st->logits = open_out(o->logits, &s))) {
        tm_csv_init(&lw, st->logits);
        tm_csv_str(&lw, "row");
        for (int c = 0; c < k; c++)
            tm_csv_str(&lw, names[c]);
        tm_csv_end(&lw);
    }
    if (s == TM_OK && o->dump && (st->dump = open_out(o->dump, &s))) {
        put_u32(st->dump, RUN_INPUTS_MAGIC);
        put_u32(st->dump, 1);
        put_u32(st->dump, (uint32_t)rows);
        put_u32(st->dump, m.n_inputs);
        for (uint32_t i = 0; i < m.n_inputs; i++) {
            put_u32(st->dump, (uint32_t)m.inputs[i].kind);
            put_u32(st->dump, (uint32_t)n_raw[i]);
        }
    }
    TM_TRY(s);

    int right = 0, labelled = 0, skipped = 0;
    float probs[TM_RT_MAX_CLASSES];
    size_t nt = 0;
    for (int r = 0; r < rows; r++) {
        int label = -1;
        if (label_col >= 0) {
            const char *lab = tm_manifest_cell(man, r, label_col);
            for (int c = 0; c < k && label < 0; c++)
                if (!strncmp(lab, m.class_names[c], TM_RT_NAME_LEN))
                    label = c;
            if (label < 0 && !o->skip_bad_rows)
                return tm_error(TM_ERR_FORMAT, "%s:%d: label '%s' is not one of the model's "
                                               "classes (known classes: %s)",
                                man->path, man->line[r], lab, known);
            if (label < 0) {
                fprintf(stderr, "skipped %s:%d: label '%s' is not one of the model's classes "
                                "(known classes: %s)\n",
                        man->path, man->line[r], lab, known);
                skipped++;
                continue;
            }
        }
        int bad = 0;
        for (uint32_t i = 0; i < m.n_inputs && !bad; i++) {
            const tm_rt_input_desc *in = &m.inputs[i];
            const tm_rt_tensor_desc *t = &m.tensors[in->tensor];
            char path[8192];
            TM_TRY(cell_path(o, man, r, col[i], path, sizeof path));
            tm_status ds = in->kind == TM_RT_INPUT_AUDIO
                               ? tm_audio_load(path, in->fe.sample_rate, in->fe.num_samples,
                                               in->fit == TM_RT_FIT_CENTER ? TM_AUDIO_FIT_CENTER
                                                                           : TM_AUDIO_FIT_START,
                                               st->raw[i], NULL)
                               : tm_image_load(path, t->c, t->h, t->w, st->raw[i]);
            if (ds != TM_OK) {
                char why[1024];
                snprintf(why, sizeof why, "%s", tm_last_error());
                /* The decoder's message already names the file; only the row is added. */
                if (!o->skip_bad_rows)
                    return tm_error(ds, "%s:%d: input '%s': %s", man->path, man->line[r],
                                    in->name, why);
                fprintf(stderr, "skipped %s:%d: input '%s': %s\n", man->path, man->line[r],
                        in->name, why);
                skipped++;
                bad = 1;
                continue;
            }
        }
        if (bad)
            continue;
        for (uint32_t i = 0; st->dump && i < m.n_inputs; i++)
            fwrite(st->raw[i], sizeof(float), n_raw[i], st->dump);
        for (int rep = 0; rep < o->repeat; rep++) {
            double t0 = now_seconds();
            for (uint32_t i = 0; i < m.n_inputs; i++) {
                tm_rt_status rs = m.inputs[i].kind == TM_RT_INPUT_AUDIO
                                      ? tm_rt_model_set_audio(&m, st->mem, (int)i, st->raw[i])
                                      : tm_rt_model_set_image(&m, st->mem, (int)i, st->raw[i]);
                if (rs != TM_RT_OK)
                    return tm_error(TM_ERR_INTERNAL, "%s:%d: input '%s': the runtime says %s",
                                    man->path, man->line[r], m.inputs[i].name,
                                    tm_rt_status_name(rs));
            }
            double t1 = now_seconds();
            tm_rt_status rs = tm_rt_model_invoke(&m, st->mem);
            double t2 = now_seconds();
            if (rs != TM_RT_OK)
                return tm_error(TM_ERR_INTERNAL, "%s:%d: invoke failed: %s", man->path,
                                man->line[r], tm_rt_status_name(rs));
            st->t_invoke[nt] = t2 - t1;
            st->t_total[nt++] = t2 - t0;
        }
        const int8_t *logits = tm_rt_model_logits(&m, st->mem);
        tm_rt_model_scores(&m, st->mem, probs);
        int best = 0;
        for (int c = 1; c < k; c++)
            if (logits[c] > logits[best])
                best = c;
        if (label >= 0) {
            labelled++;
            right += label == best;
            st->confusion[(size_t)label * k + best]++;
        }
        if (st->scores) {
            tm_csv_int(&sw, r);
            tm_csv_str(&sw, label >= 0 ? names[label] : "");
            tm_csv_str(&sw, names[best]);
            for (int c = 0; c < k; c++)
                tm_csv_fmt(&sw, "%.6g", (double)probs[c]);
            tm_csv_end(&sw);
        }
        if (st->logits) {
            tm_csv_int(&lw, r);
            for (int c = 0; c < k; c++)
                tm_csv_int(&lw, logits[c]);
            tm_csv_end(&lw);
        }
        if (!o->quiet && (r + 1) % 100 == 0)
            fprintf(stderr, "%d/%d rows\n", r + 1, rows);
    }
    /* The dump's row count is what was written. */
    if (st->dump && skipped && (fseek(st->dump, 8, SEEK_SET) == 0))
        put_u32(st->dump, (uint32_t)(rows - skipped));
    const char *paths[3] = {o->scores, o->logits, o->dump};
    FILE **files[3] = {&st->scores, &st->logits, &st->dump};
    for (int j = 0; j < 3; j++)
        if (*files[j]) {
            int bad = ferror(*files[j]) | (j == 0 && tm_csv_failed(&sw)) |
                      (j == 1 && tm_csv_failed(&lw)) | fclose(*files[j]);
            *files[j] = NULL;
            if (bad)
                return tm_error(TM_ERR_IO, "%s: write failed", paths[j]);
        }

    printf("model %s: %u inputs, %u classes, %u ops\n", o->model, m.n_inputs, m.n_classes,
           m.n_ops);
    if (labelled)
        printf("accuracy %.4f (%d/%d)\n", (double)right / labelled, right, labelled);
    else
        printf("accuracy n/a (no '%s' column)\n", label_name);
    if (o->skip_bad_rows)
        printf("skipped rows %d of %d\n", skipped, rows);
    double inv = median(st->t_invoke, nt), tot = median(st->t_total, nt);
    printf("latency median per inference (%zu inferences): invoke %.3f ms, with input setup "
           "(front end) %.3f ms\n",
           nt, 1e3 * inv, 1e3 * tot);
    printf("memory %zu bytes (arena %u, scratch %u, workspace %u); model file %zu bytes\n",
           mem_bytes, m.arena_bytes, m.scratch_need, m.workspace_bytes, size);
    if (o->confusion && labelled) {
        int k = (int)m.n_classes, skipped_plot = 0;
        int *conf = malloc(sizeof(int) * (size_t)k * (size_t)k);
        const char **cn = malloc(sizeof(char *) * (size_t)k);
        tm_status ps = conf && cn ? TM_OK : tm_error(TM_ERR_NOMEM, "out of memory");
        for (int i = 0; ps == TM_OK && i < k * k; i++)
            conf[i] = (int)st->confusion[i];
        for (int c = 0; ps == TM_OK && c < k; c++)
            cn[c] = names[c];
        if (ps == TM_OK)
            ps = tm_plot_confusion(o->confusion, o->model, cn, conf, k, &skipped_plot);
        free(conf);
        free(cn);
        TM_TRY(ps);
        if (skipped_plot)
            fprintf(stderr, "tinym2net-run: gnuplot not found: %s skipped (its .gp and .dat are "
                            "written)\n",
                    o->confusion);
    } else if (o->confusion) {
        fprintf(stderr, "tinym2net-run: no labelled rows: %s not drawn\n", o->confusion);
    }
    if (!o->json)
        return TM_OK;
    run_summary sum = {rows, labelled, right, skipped, nt, inv, tot, mem_bytes, size, label_name};
    return write_report(o, &m, names, st->confusion, &sum);
}

int main(int argc, char **argv)
{
    options o;
    memset(&o, 0, sizeof o);
    o.repeat = 1;
    o.fit = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = !strcmp(a, "--manifest") || !strcmp(a, "--root") ||
                    !strcmp(a, "--label-column") || !strcmp(a, "--column") ||
                    !strcmp(a, "--fit") || !strcmp(a, "--scores") || !strcmp(a, "--logits") ||
                    !strcmp(a, "--repeat") || !strcmp(a, "--dump-inputs") ||
                    !strcmp(a, "--json") || !strcmp(a, "--confusion");
        if (takes && !v) {
            fprintf(stderr, "tinym2net-run: %s needs a value\n", a);
            return 2;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            help(stdout);
            return 0;
        } else if (!strcmp(a, "--version")) {
            printf("tinym2net-run %s\n", TM_VERSION_STRING);
            return 0;
        } else if (!strcmp(a, "--manifest")) {
            o.manifest = v;
        } else if (!strcmp(a, "--root")) {
            o.root = v;
        } else if (!strcmp(a, "--label-column")) {
            o.label_col = v;
        } else if (!strcmp(a, "--column")) {
            if (!strchr(v, '=') || o.n_columns == RUN_MAX_COLUMNS) {
                fprintf(stderr, "tinym2net-run: --column needs INPUT=COLUMN (at most %d)\n",
                        RUN_MAX_COLUMNS);
                return 2;
            }
            o.columns[o.n_columns++] = v;
        } else if (!strcmp(a, "--fit")) {
            if (strcmp(v, "start") && strcmp(v, "center")) {
                fprintf(stderr, "tinym2net-run: --fit must be start or center, got '%s'\n", v);
                return 2;
            }
            o.fit = !strcmp(v, "start") ? TM_RT_FIT_START : TM_RT_FIT_CENTER;
        } else if (!strcmp(a, "--scores")) {
            o.scores = v;
        } else if (!strcmp(a, "--logits")) {
            o.logits = v;
        } else if (!strcmp(a, "--json")) {
            o.json = v;
        } else if (!strcmp(a, "--dump-inputs")) {
            o.dump = v;
        } else if (!strcmp(a, "--confusion")) {
            o.confusion = v;
        } else if (!strcmp(a, "--repeat")) {
            char *end = NULL;
            long n = strtol(v, &end, 10);
            if (!*v || *end || n < 1 || n > 1000000) {
                fprintf(stderr, "tinym2net-run: --repeat needs a count >= 1, got '%s'\n", v);
                return 2;
            }
            o.repeat = (int)n;
        } else if (!strcmp(a, "--skip-bad-rows")) {
            o.skip_bad_rows = 1;
        } else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) {
            o.quiet = 1;
        } else if (a[0] == '-') {
            static const char *const known[] = {
                "--manifest", "--root", "--label-column", "--column", "--fit", "--scores",
                "--logits", "--json", "--confusion", "--repeat", "--dump-inputs", "--skip-bad-rows",
                "--quiet",
                "--help", "--version"};
            const char *near = tm_suggest(a, known, (int)(sizeof known / sizeof *known));
            if (near)
                fprintf(stderr, "tinym2net-run: unknown option '%s'; did you mean '%s'? (see "
                                "--help)\n",
                        a, near);
            else
                fprintf(stderr, "tinym2net-run: unknown option '%s' (see --help)\n", a);
            return 2;
        } else if (!o.model) {
            o.model = a;
        } else {
            fprintf(stderr, "tinym2net-run: unexpected argument '%s'\n", a);
            return 2;
        }
        if (takes)
            i++;
    }
    if (!o.model || !o.manifest) {
        if (!o.model)
            help(stderr);
        else
            fprintf(stderr, "tinym2net-run: --manifest CSV is required\n");
        return 2;
    }
    state st;
    memset(&st, 0, sizeof st);
    tm_status s = run(&o, &st);
    state_free(&st);
    if (s != TM_OK) {
        fprintf(stderr, "tinym2net-run: error: %s\n", tm_last_error());
        return 1;
    }
    return 0;
}
