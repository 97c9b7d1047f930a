/* Inference latency at batch 1, in one run on one machine, as ratios:
 * the integer runtime on the exported model (mixed 8/4 bits; also all-8 and
 * all-4 lowerings of the same model), this project's float path
 * (tm_model_forward, eval mode, one thread) and PyTorch's float and static
 * int8 paths on the same architecture (torch_reference.py bench-infer).
 * Then valgrind's callgrind counts the instructions of N invokes of each
 * lowering: instructions per multiply-accumulate, whole model and per
 * kernel, beside the ideal for the build's SIMD width (docs/deployment.md).
 *
 *   build/bench_latency [--qdir QDIR | --model MODEL] [--cfg FILE] [--seconds S]
 *                       [--invokes N] [--no-torch] [--no-callgrind] [--keep DIR]
 *                       [--write-models DIR]
 *   build/bench_latency --driver MODEL N     N rows: inputs set, invoke (what
 *                                            callgrind runs)
 *
 * With --qdir (a `tinym2net quantize` folder) the models are the exporter's:
 * rebuilt from qmodel.h5, the stored precision checked against model.tm2n
 * byte for byte, raw-input records from the experiment. Without it the
 * experiment file's model (default: the avdigits fused separable model) gets
 * random weights and a calibration on random inputs: the same operations,
 * shapes and bit widths, so the same cost. With --model, that one exported
 * file alone: runtime latency and callgrind, no float or PyTorch side. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tm_export.h"
#include "tm_progress.h"
#include "tm_rt_kernels.h"
#include "tm_run_folder.h"
#include "tm_train.h"

#ifndef TM_SOURCE_DIR
#define TM_SOURCE_DIR "."
#endif

/* The ideal of the kernels' inner loop is one int16 pair multiply-add
 * instruction per lane pair at the width the runtime was built for
 * (docs/deployment.md); the runtime says which that is. */

enum { N_VARIANTS = 4 }; /* paper (or stored), all8, all4, and the first planned flat */

typedef struct {
    const char *name;           /* "stored", "paper", "all8", "all4", "paper-flat" */
    uint8_t *bytes;
    size_t size;
    tm_rt_model m;
    void *mem;
    float *in[TM_RT_MAX_MODEL_INPUTS];
    tm_export_stats st;
    double invoke_ms, total_ms;
    double ir_per_mac, kernel_ir_per_mac[3], frontend_per_invoke;
    uint64_t kernel_macs[3];
} variant;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of single calls over `seconds` (at least 20 calls). */
typedef int (*call_fn)(void *ctx);
static double median_ms(call_fn fn, void *ctx, double seconds)
{
    for (int i = 0; i < 20; i++)
        if (fn(ctx))
            return -1;
    size_t cap = 1 << 16, n = 0;
    double *t = malloc(sizeof(double) * cap);
    if (!t)
        return -1;
    double end = tm_now_seconds() + seconds;
    while (n < cap && (n < 20 || tm_now_seconds() < end)) {
        double t0 = tm_now_seconds();
        if (fn(ctx)) {
            free(t);
            return -1;
        }
        t[n++] = tm_now_seconds() - t0;
    }
    qsort(t, n, sizeof *t, cmp_double);
    double med = 1e3 * t[n / 2];
    free(t);
    return med;
}

/* Deterministic inputs: a chirp with noise for audio, noise elsewhere. */
static void fill_inputs(variant *v, tm_rng *r)
{
    for (uint32_t i = 0; i < v->m.n_inputs; i++) {
        size_t n = tm_rt_model_input_floats(&v->m, (int)i);
        float *x = v->in[i];
        for (size_t j = 0; j < n; j++) {
            if (v->m.inputs[i].kind == TM_RT_INPUT_AUDIO)
                x[j] = 0.3f * sinf(0.02f * (float)j + 1e-5f * (float)(j * j)) +
                       0.05f * tm_rng_normal(r);
            else if (v->m.inputs[i].kind == TM_RT_INPUT_IMAGE)
                x[j] = tm_rng_uniform(r);
            else
                x[j] = tm_rng_normal(r);
        }
    }
}

static int set_inputs(variant *v)
{
    for (uint32_t i = 0; i < v->m.n_inputs; i++) {
        int kind = v->m.inputs[i].kind;
        tm_rt_status s = kind == TM_RT_INPUT_AUDIO ? tm_rt_model_set_audio(&v->m, v->mem, (int)i, v->in[i])
                         : kind == TM_RT_INPUT_IMAGE
                             ? tm_rt_model_set_image(&v->m, v->mem, (int)i, v->in[i])
                             : tm_rt_model_set_features(&v->m, v->mem, (int)i, v->in[i]);
        if (s != TM_RT_OK)
            return -1;
    }
    return 0;
}

static int call_invoke(void *ctx)
{
    variant *v = ctx;
    return tm_rt_model_invoke(&v->m, v->mem) == TM_RT_OK ? 0 : -1;
}

static int call_total(void *ctx)
{
    variant *v = ctx;
    return set_inputs(v) || call_invoke(v);
}

static int variant_open(variant *v, tm_rng *r)
{
    if (tm_rt_model_open(&v->m, v->bytes, v->size) != TM_RT_OK) {
        fprintf(stderr, "bench_latency: %s: %s\n", v->name, tm_rt_model_error(&v->m));
        return -1;
    }
    tm_export_stats_of(&v->m, &v->st);
    if (!(v->mem = malloc(tm_rt_model_memory_bytes(&v->m))))
        return -1;
    for (uint32_t i = 0; i < v->m.n_inputs; i++)
        if (!(v->in[i] = malloc(sizeof(float) * tm_rt_model_input_floats(&v->m, (int)i))))
            return -1;
    fill_inputs(v, r);
    return set_inputs(v);
}

static void variant_free(variant *v)
{
    for (int i = 0; i < TM_RT_MAX_MODEL_INPUTS; i++)
        free(v->in[i]);
    free(v->mem);
    free(v->bytes);
}

/* ---- --driver: N rows (inputs set, invoke) of a model file, for callgrind - */

static int driver(const char *path, int n)
{
    variant v;
    memset(&v, 0, sizeof v);
    v.name = path;
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "bench_latency: %s: cannot open\n", path);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    v.bytes = malloc((size_t)len + 4);
    v.size = v.bytes ? fread(v.bytes, 1, (size_t)len, f) : 0;
    fclose(f);
    tm_rng r;
    tm_rng_seed(&r, 7);
    if (v.size != (size_t)len || variant_open(&v, &r)) {
        variant_free(&v);
        return 1;
    }
    int bad = 0;
    for (int i = 0; i < n && !bad; i++)
        bad = call_total(&v);
    variant_free(&v);
    return bad;
}

/* ---- the quantised model -------------------------------------------------- */

typedef struct {
    tm_qrun_folder f;           /* a quantize folder, or an experiment's random model */
    tm_rt_input_desc raw[TM_MAX_BRANCHES];
    const tm_rt_input_desc *rawp[TM_MAX_BRANCHES];
} source;

/* From an experiment file: random weights, calibrated on random inputs. */
static tm_status source_random(source *s, const char *cfg, int classes)
{
    TM_TRY(tm_experiment_load(&s->f.e, cfg, NULL, 0));
    s->f.have_e = 1;
    tm_experiment_set_classes(&s->f.e, classes);
    tm_rng r;
    tm_rng_seed(&r, 1);
    TM_TRY(tm_model_build(&s->f.m, &s->f.e.model, &r));
    TM_TRY(tm_qat_new(&s->f.q, s->f.m, NULL));
    TM_TRY(tm_qat_preset(s->f.q, "paper"));
    enum { N = 256 };
    tm_qat_data d;
    memset(&d, 0, sizeof d);
    d.n = N;
    int *labels = calloc(N, sizeof(int));
    float *x[TM_MAX_BRANCHES] = {0};
    tm_status st = labels ? TM_OK : TM_ERR_NOMEM;
    for (int b = 0; st == TM_OK && b < s->f.m->spec.n_branches; b++) {
        const int *in = s->f.m->spec.branches[b].input;
        size_t dim = (size_t)in[0] * in[1] * in[2];
        if (!(x[b] = malloc(sizeof(float) * dim * N))) {
            st = TM_ERR_NOMEM;
            break;
        }
        for (size_t j = 0; j < dim * N; j++)
            x[b][j] = tm_rng_normal(&r);
        d.x[b] = x[b];
    }
    d.label = labels;
    tm_pool *pool = NULL;
    if (st == TM_OK)
        st = tm_pool_new(&pool, 1);
    if (st == TM_OK)
        st = tm_qat_calibrate(s->f.q, pool, &d, 32, 8, &r);
    tm_pool_free(pool);
    for (int b = 0; b < TM_MAX_BRANCHES; b++)
        free(x[b]);
    free(labels);
    return st;
}

static void source_free(source *s)
{
    tm_qrun_folder_close(&s->f);
}

/* ---- this project's float path ------------------------------------------------ */

typedef struct {
    tm_model *m;
    tm_tape t;
    float *x[TM_MAX_BRANCHES];
} float_ctx;

static int call_float(void *ctx)
{
    float_ctx *c = ctx;
    tm_tape_reset(&c->t);
    tm_tensor *x[TM_MAX_BRANCHES] = {0}, *logits = NULL;
    for (int b = 0; b < c->m->spec.n_branches; b++) {
        const int *in = c->m->spec.branches[b].input;
        int shape[4] = {1, in[0], in[1], in[2]};
        if (tm_arena_tensor(&c->t.arena, &x[b], 4, shape, 0) != TM_OK)
            return -1;
        memcpy(x[b]->data, c->x[b], x[b]->size * sizeof(float));
    }
    return tm_model_forward(c->m, &c->t, x, &logits) == TM_OK ? 0 : -1;
}

/* The float path's context: eval mode, a pool of 1 thread, random inputs. */
static int float_open(float_ctx *c, tm_pool **pool, tm_model *m)
{
    memset(c, 0, sizeof *c);
    if (tm_pool_new(pool, 1) != TM_OK)
        return -1;
    c->m = m;
    tm_tape_init(&c->t, *pool, 0);
    c->t.training = 0;
    tm_tape_set_grad_enabled(&c->t, 0);
    tm_rng r;
    tm_rng_seed(&r, 3);
    for (int b = 0; b < m->spec.n_branches; b++) {
        const int *in = m->spec.branches[b].input;
        size_t n = (size_t)in[0] * in[1] * in[2];
        if (!(c->x[b] = malloc(sizeof(float) * n)))
            return -1;
        for (size_t j = 0; j < n; j++)
            c->x[b][j] = tm_rng_normal(&r);
    }
    return 0;
}

static void float_close(float_ctx *c, tm_pool *pool)
{
    for (int b = 0; b < TM_MAX_BRANCHES; b++)
        free(c->x[b]);
    tm_tape_free(&c->t);
    tm_pool_free(pool);
}

/* a's median over b's, in rounds that time `per` calls of each in turn; the
 * median of the rounds' ratios, so a load that comes and goes during the run
 * weighs on both sides of each ratio alike. */
static double interleaved_ratio(call_fn fa, void *ca, call_fn fb, void *cb, int rounds, int per)
{
    double *ta = malloc(sizeof(double) * (size_t)per), *tb = malloc(sizeof(double) * (size_t)per);
    double *q = malloc(sizeof(double) * (size_t)rounds), med = -1;
    if (ta && tb && q) {
        int ok = 1;
        for (int r = 0; r < rounds && ok; r++) {
            for (int i = 0; i < per && ok; i++) {
                double t0 = tm_now_seconds();
                ok = fa(ca) == 0;
                ta[i] = tm_now_seconds() - t0;
                t0 = tm_now_seconds();
                ok = ok && fb(cb) == 0;
                tb[i] = tm_now_seconds() - t0;
            }
            qsort(ta, (size_t)per, sizeof *ta, cmp_double);
            qsort(tb, (size_t)per, sizeof *tb, cmp_double);
            q[r] = ta[per / 2] / tb[per / 2];
        }
        if (ok) {
            qsort(q, (size_t)rounds, sizeof *q, cmp_double);
            med = q[rounds / 2];
        }
    }
    free(ta);
    free(tb);
    free(q);
    return med;
}

/* ---- PyTorch ------------------------------------------------------------------ */

static int torch_latency(const tm_model_spec *spec, double seconds, double *float_ms,
                         double *int8_ms, char *engine, size_t engine_n)
{
    char shapes[512] = "", branches[256] = "", cmd[2048];
    for (int b = 0; b < spec->n_branches; b++) {
        const int *in = spec->branches[b].input;
        size_t used = strlen(shapes);
        snprintf(shapes + used, sizeof shapes - used, " --%s-shape %d,%d,%d",
                 spec->branches[b].name, in[0], in[1], in[2]);
        used = strlen(branches);
        snprintf(branches + used, sizeof branches - used, "%s%s", b ? "," : "",
                 spec->branches[b].name);
    }
    snprintf(cmd, sizeof cmd,
             "python3 '%s/experiments/bench/torch_reference.py' bench-infer --quantized "
             "--seconds %g --threads 1 --batch 1 --classes %d --branches %s%s",
             TM_SOURCE_DIR, seconds, spec->n_classes, branches, shapes);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    char line[256], eng[64] = "";
    *float_ms = *int8_ms = -1;
    while (fgets(line, sizeof line, p)) {
        sscanf(line, "torch_float_latency_ms %lf", float_ms);
        if (sscanf(line, "torch_int8_latency_ms %lf engine %63s", int8_ms, eng) >= 1)
            snprintf(engine, engine_n, "%s", eng);
    }
    int rc = pclose(p);
    return rc == 0 && *float_ms > 0 && *int8_ms > 0 ? 0 : -1;
}

/* ---- callgrind ------------------------------------------------------------------ */

/* Instructions executed inside `fn` (inclusive) over `invokes` invokes of
 * the model file, or -1. */
static double callgrind_ir(const char *self, const char *model, int invokes, const char *fn,
                           const char *dir)
{
    char out[4200], cmd[16384];
    snprintf(out, sizeof out, "%s/callgrind.%s.out", dir, fn);
    snprintf(cmd, sizeof cmd,
             "valgrind --tool=callgrind --callgrind-out-file='%s' --toggle-collect=%s '%s' "
             "--driver '%s' %d >/dev/null 2>&1",
             out, fn, self, model, invokes);
    if (system(cmd) != 0)
        return -1;
    FILE *f = fopen(out, "r");
    if (!f)
        return -1;
    char line[512];
    double ir = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "summary: %lf", &ir) == 1 || sscanf(line, "totals: %lf", &ir) == 1)
            break;
    fclose(f);
    remove(out);
    return ir;
}

static void run_callgrind(const char *self, variant *v, int n_variants, int invokes,
                          const char *dir)
{
    static const char *kernels[3] = {"tm_rt_conv", "tm_rt_depthwise", "tm_rt_dense"};
    static const uint32_t types[3] = {TM_RT_OP_CONV, TM_RT_OP_DEPTHWISE, TM_RT_OP_DENSE};
    printf("\ncallgrind: instructions per multiply-accumulate (Ir / MACs), %d invokes each, "
           "counted inside the named function\n",
           invokes);
    printf("  ideal for the runtime's SIMD width (%s, %d MACs per multiply-add instruction): "
           "%.4f\n",
           tm_rt_kernels_isa(), tm_rt_kernels_macs_per_instruction(),
           1.0 / tm_rt_kernels_macs_per_instruction());
    printf("  %-10s %12s %12s %12s %12s %14s\n", "model", "invoke", "conv", "depthwise", "dense",
           "front end/inv");
    for (int k = 0; k < n_variants; k++) {
        char path[4300];
        snprintf(path, sizeof path, "%.4200s/%s.tm2n", dir, v[k].name);
        if (tm_export_write_file(path, v[k].bytes, v[k].size) != TM_OK) {
            fprintf(stderr, "bench_latency: %s\n", tm_last_error());
            return;
        }
        double ir = callgrind_ir(self, path, invokes, "tm_rt_model_invoke", dir);
        if (ir < 0) {
            printf("  callgrind failed (is valgrind installed?)\n");
            return;
        }
        v[k].ir_per_mac = ir / ((double)invokes * (double)v[k].st.macs);
        for (int j = 0; j < 3; j++) {
            v[k].kernel_macs[j] = 0;
            for (uint32_t o = 0; o < v[k].m.n_ops; o++)
                if (v[k].m.ops[o].type == types[j])
                    v[k].kernel_macs[j] += tm_export_op_macs(&v[k].m, o);
            double kir = v[k].kernel_macs[j]
                             ? callgrind_ir(self, path, invokes, kernels[j], dir)
                             : -1;
            v[k].kernel_ir_per_mac[j] =
                kir > 0 ? kir / ((double)invokes * (double)v[k].kernel_macs[j]) : -1;
        }
        /* The audio front end per row (tm_rt_model_set_audio, inclusive) against
         * the invoke: the tables are built on the first row only. */
        int audio = 0;
        for (uint32_t i = 0; i < v[k].m.n_inputs; i++)
            audio |= v[k].m.inputs[i].kind == TM_RT_INPUT_AUDIO;
        double fe = audio ? callgrind_ir(self, path, invokes, "tm_rt_model_set_audio", dir) : -1;
        v[k].frontend_per_invoke = fe > 0 ? fe / ir : -1;
        printf("  %-10s %12.3f %12.3f %12.3f %12.3f %14.3f\n", v[k].name, v[k].ir_per_mac,
               v[k].kernel_ir_per_mac[0], v[k].kernel_ir_per_mac[1], v[k].kernel_ir_per_mac[2],
               v[k].frontend_per_invoke);
        remove(path);
    }
    printf("  (conv includes the 1x1 pointwise halves of the separable layers; MACs count "
           "padding taps;\n   front end/inv: instructions of the audio input setters per row over "
           "the invoke's, -1 without audio)\n");
}

static void callgrind_all(variant *v, int n_variants, int invokes, const char *keep)
{
    if (system("valgrind --version >/dev/null 2>&1") != 0) {
        printf("\ncallgrind: valgrind not found (apt-get install valgrind)\n");
        return;
    }
    char tmp[4200];
    if (keep)
        snprintf(tmp, sizeof tmp, "%s", keep);
    else
        snprintf(tmp, sizeof tmp, "%s/tm-bench-latency-XXXXXX",
                 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!keep && !mkdtemp(tmp))
        return;
    char self[4200];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
        run_callgrind(self, v, n_variants, invokes, tmp);
    }
    if (!keep)
        rmdir(tmp);
}

/* --model: one exported file. */
static int bench_file(const char *path, double seconds, int invokes, int grind,
                      const char *keep)
{
    variant v;
    memset(&v, 0, sizeof v);
    v.name = "model";
    if (tm_read_file_aligned(path, &v.bytes, &v.size) != TM_OK) {
        fprintf(stderr, "bench_latency: %s\n", tm_last_error());
        return 1;
    }
    tm_rng r;
    tm_rng_seed(&r, 7);
    if (variant_open(&v, &r)) {
        variant_free(&v);
        return 1;
    }
    v.invoke_ms = median_ms(call_invoke, &v, seconds);
    v.total_ms = median_ms(call_total, &v, seconds);
    printf("model %s: %llu MACs (%d weight ops at 8 bits, %d at 4), batch 1, medians over %g s\n",
           path, (unsigned long long)v.st.macs, v.st.ops8, v.st.ops4, seconds);
    printf("  invoke %.4f ms, with the input setters %.4f ms; file %zu bytes, RAM %zu bytes\n",
           v.invoke_ms, v.total_ms, v.st.file_bytes, v.st.memory_bytes);
    if (grind)
        callgrind_all(&v, 1, invokes, keep);
    variant_free(&v);
    return 0;
}

/* ---- main ------------------------------------------------------------------------ */

static void usage(void)
{
    fprintf(stderr, "usage: bench_latency [--qdir QDIR | --model MODEL] [--cfg FILE] [--classes K] "
                    "[--seconds S] "
                    "[--invokes N] [--no-torch] [--no-callgrind] [--keep DIR] [--write-models DIR]\n"
                    "       bench_latency --driver MODEL N\n");
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "--driver"))
        return driver(argv[2], atoi(argv[3]));
    const char *qdir = NULL, *cfg = TM_SOURCE_DIR "/experiments/avdigits/fused-compressed.cfg";
    const char *keep = NULL, *model_path = NULL, *write_dir = NULL;
    double seconds = 3;
    int invokes = 20, torch = 1, grind = 1, classes = 10;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (!strcmp(a, "--qdir") && more)
            qdir = argv[++i];
        else if (!strcmp(a, "--model") && more)
            model_path = argv[++i];
        else if (!strcmp(a, "--cfg") && more)
            cfg = argv[++i];
        else if (!strcmp(a, "--classes") && more)
            classes = atoi(argv[++i]);
        else if (!strcmp(a, "--seconds") && more)
            seconds = atof(argv[++i]);
        else if (!strcmp(a, "--invokes") && more)
            invokes = atoi(argv[++i]);
        else if (!strcmp(a, "--keep") && more)
            keep = argv[++i];
        else if (!strcmp(a, "--write-models") && more)
            write_dir = argv[++i];
        else if (!strcmp(a, "--no-torch"))
            torch = 0;
        else if (!strcmp(a, "--no-callgrind"))
            grind = 0;
        else {
            usage();
            return 2;
        }
    }
    if (!(seconds > 0) || invokes < 1 || classes < 2 || classes > TM_RT_MAX_CLASSES) {
        usage();
        return 2;
    }
    if (model_path && qdir) {
        usage();
        return 2;
    }
    if (model_path)
        return bench_file(model_path, seconds, invokes, grind, keep);

    source src;
    memset(&src, 0, sizeof src);
    tm_status s = qdir ? tm_qrun_folder_open(&src.f, qdir) : source_random(&src, cfg, classes);
    if (s != TM_OK) {
        fprintf(stderr, "bench_latency: %s\n", tm_last_error());
        source_free(&src);
        return 1;
    }
    int n_raw = 0;
    s = tm_run_raw_inputs(&src.f.e, src.f.m, src.raw, src.rawp, &n_raw);
    if (s != TM_OK) {
        fprintf(stderr, "bench_latency: %s\n", tm_last_error());
        source_free(&src);
        return 1;
    }
    /* The stored precision (checked against model.tm2n) or the paper preset,
     * then the same model lowered at all 8 and all 4 bits. */
    variant v[N_VARIANTS];
    memset(v, 0, sizeof v);
    v[0].name = qdir ? "stored" : "paper";
    v[1].name = "all8";
    v[2].name = "all4";
    v[3].name = qdir ? "stored-flat" : "paper-flat";
    tm_rng r;
    tm_rng_seed(&r, 7);
    int bad = 0;
    for (int k = 0; k < N_VARIANTS && !bad; k++) {
        if (k == 3) {
            /* the first one's file with every tensor in the arena (export --plan flat) */
            v[3].bytes = malloc(v[0].size);
            if (!v[3].bytes) {
                s = tm_error(TM_ERR_NOMEM, "bench_latency: out of memory");
                break;
            }
            memcpy(v[3].bytes, v[0].bytes, v[0].size);
            v[3].size = v[0].size;
            s = tm_export_plan_flat(&v[3].bytes, &v[3].size);
        } else {
            if (k > 0 && (s = tm_qat_preset(src.f.q, v[k].name)) != TM_OK)
                break;
            s = tm_export_lower(src.f.q, &src.f.lo, src.rawp, k == 0 ? src.f.tm2n : NULL,
                                k == 0 ? src.f.tm2n_size : 0, &v[k].bytes, &v[k].size);
        }
        if (s != TM_OK)
            break;
        bad = variant_open(&v[k], &r);
    }
    if (s != TM_OK || bad) {
        fprintf(stderr, "bench_latency: %s\n", s != TM_OK ? tm_last_error() : "opening a model");
        for (int k = 0; k < N_VARIANTS; k++)
            variant_free(&v[k]);
        source_free(&src);
        return 1;
    }

    if (write_dir) {
        /* the three lowerings as files, for the device counts (runtime/tools/bench_device.sh) */
        for (int k = 0; k < N_VARIANTS && s == TM_OK; k++) {
            char path[4300];
            snprintf(path, sizeof path, "%.4200s/%s.tm2n", write_dir, v[k].name);
            if ((s = tm_export_write_file(path, v[k].bytes, v[k].size)) == TM_OK)
                printf("wrote %s\n", path);
        }
        if (s != TM_OK)
            fprintf(stderr, "bench_latency: %s\n", tm_last_error());
        for (int k = 0; k < N_VARIANTS; k++)
            variant_free(&v[k]);
        source_free(&src);
        return s == TM_OK ? 0 : 1;
    }
    printf("model: %s (%s), batch 1, one thread, medians over %g s each\n", src.f.e.name,
           qdir ? qdir : "random weights, calibrated on random inputs", seconds);
    printf("  %-10s %10s %8s %8s %11s %13s %10s %10s\n", "lowering", "MACs", "8-bit", "4-bit",
           "invoke ms", "+inputs ms", "file B", "RAM B");
    for (int k = 0; k < N_VARIANTS; k++) {
        v[k].invoke_ms = median_ms(call_invoke, &v[k], seconds);
        v[k].total_ms = median_ms(call_total, &v[k], seconds);
        printf("  %-10s %10llu %8d %8d %11.4f %13.4f %10zu %10zu\n", v[k].name,
               (unsigned long long)v[k].st.macs, v[k].st.ops8, v[k].st.ops4, v[k].invoke_ms,
               v[k].total_ms, v[k].st.file_bytes, v[k].st.memory_bytes);
    }
    printf("  (+inputs: the input setters too - audio front end, standardisation, "
           "quantisation)\n");
    printf("  RAM for invoke of %s on each target build (tm_export_stats, from this host):\n"
           "    %-12s %8s %8s %6s\n",
           v[0].name, "target", "before", "after", "ratio");
    for (int t = 0; t < TM_EXPORT_TARGETS; t++)
        printf("    %-12s %8zu %8zu %6.3f  (%s)\n", tm_export_targets[t].name,
               v[0].st.unstreamed_ram_for[t], v[0].st.ram_for[t],
               (double)v[0].st.ram_for[t] / (double)v[0].st.unstreamed_ram_for[t],
               tm_export_targets[t].cores);
    printf("    (before: every tensor in the arena; after: the file's plan, %d tensors streamed "
           "row by row)\n", v[0].st.streamed_tensors);
    float_ctx fc;
    tm_pool *fpool = NULL;
    double fl = -1, qi = -1, qf = -1;
    if (float_open(&fc, &fpool, src.f.m) == 0 && (fl = median_ms(call_float, &fc, seconds)) > 0) {
        int per = 40, rounds = (int)(seconds * 1e3 / (per * (fl + v[0].invoke_ms + 0.01))) + 5;
        qi = interleaved_ratio(call_invoke, &v[0], call_float, &fc, rounds, per);
        qf = interleaved_ratio(call_invoke, &v[3], call_float, &fc, rounds, per);
    }
    float_close(&fc, fpool);
    printf("  float, tm_model_forward (eval, 1 thread): %.4f ms\n", fl);
    double tf = -1, ti = -1;
    char engine[64] = "";
    if (torch) {
        if (torch_latency(&src.f.m->spec, seconds, &tf, &ti, engine, sizeof engine) == 0) {
            printf("  PyTorch float (eval, 1 thread): %.4f ms\n", tf);
            printf("  PyTorch int8 (static quantisation, %s engine, 1 thread): %.4f ms\n", engine,
                   ti);
        } else {
            printf("  PyTorch: not available (torch_reference.py bench-infer failed)\n");
        }
    }
    printf("\nratios (%s invoke):\n", v[0].name);
    printf("  runtime / float (this project)  %.3f   (goal <= 1/3)\n", v[0].invoke_ms / fl);
    printf("  %s / float                %.3f   (export --plan flat: %zu bytes of RAM instead "
           "of %zu)\n",
           v[3].name, v[3].invoke_ms / fl, v[3].st.memory_bytes, v[0].st.memory_bytes);
    printf("  timed in turns (rounds of 40 calls of each, the median of the rounds' ratios):\n"
           "    %s / float %.3f, %s / float %.3f\n",
           v[0].name, qi, v[3].name, qf);
    if (ti > 0) {
        printf("  runtime / PyTorch int8          %.3f   (goal <= 0.5)\n", v[0].invoke_ms / ti);
        printf("  runtime / PyTorch float         %.3f\n", v[0].invoke_ms / tf);
        printf("  runtime with inputs / PyTorch int8 (which gets ready features) %.3f\n",
               v[0].total_ms / ti);
    }

    if (grind)
        callgrind_all(v, N_VARIANTS, invokes, keep);
    for (int k = 0; k < N_VARIANTS; k++)
        variant_free(&v[k]);
    source_free(&src);
    return 0;
}
