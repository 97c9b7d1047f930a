/* The residual add layer from end to end: the runtime's int8 add against a
 * plain reference, the float op's gradient against finite differences, the
 * experiment file's errors, and experiments/quickstart-residual.cfg trained
 * (its loss falls), quantised and exported with the real commands, the
 * exported file run by the runtime giving the integer simulation's logits
 * on every test sample, with the skip tensor kept alive until its add. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tm_data_load.h"
#include "tm_gradcheck.h"
#include "tm_lower.h"
#include "tm_ops.h"
#include "tm_rt_kernels.h"
#include "tm_run_folder.h"
#include "tm_test_util.h"
#include "tm_threads.h"
#include "tm_train.h"

/* ---- the runtime kernel --------------------------------------------------------- */

/* gemmlowp's MultiplyByQuantizedMultiplier in int64, written apart from the
 * runtime's: saturating left shift, rounding doubling high multiply, right
 * shift rounding half away from zero. */
static int64_t ref_requant(int64_t acc, int32_t mult, int32_t shift)
{
    int ls = shift > 0 ? shift : 0, rs = shift > 0 ? 0 : -shift;
    int64_t x = acc * ((int64_t)1 << ls);
    x = x > INT32_MAX ? INT32_MAX : x < INT32_MIN ? INT32_MIN : x;
    int64_t p = x * (int64_t)mult + ((int64_t)1 << 30), hi = p / ((int64_t)1 << 31);
    if (p % ((int64_t)1 << 31) != 0 && p < 0)
        hi--;
    if (rs == 0)
        return hi;
    int64_t a = hi < 0 ? -hi : hi;
    a = (a + ((int64_t)1 << (rs - 1))) >> rs;
    return hi < 0 ? -a : a;
}

START_TEST(add_kernel_matches_reference)
{
    tm_rng r;
    tm_rng_seed(&r, 7);
    enum { N = 4099 };
    int8_t a[N], b[N], got[N];
    int near = 0, total = 0;
    for (int trial = 0; trial < 40; trial++) {
        float sa = 0.001f + tm_rng_uniform(&r) * 0.2f, sb = 0.001f + tm_rng_uniform(&r) * 0.2f;
        float so = (sa + sb) * (0.5f + tm_rng_uniform(&r));
        int32_t za = (int32_t)(tm_rng_uniform(&r) * 255.0f) - 128;
        int32_t zb = (int32_t)(tm_rng_uniform(&r) * 255.0f) - 128;
        int32_t zo = (int32_t)(tm_rng_uniform(&r) * 255.0f) - 128;
        int32_t lo = trial % 3 == 0 ? zo : -128, hi = trial % 5 == 0 ? 100 : 127;
        if (lo > hi)
            lo = hi;
        for (int i = 0; i < N; i++) {
            a[i] = (int8_t)((int)(tm_rng_uniform(&r) * 256.0f) - 128);
            b[i] = (int8_t)((int)(tm_rng_uniform(&r) * 256.0f) - 128);
        }
        int32_t mult[3], shift[3];
        tm_rt_add_multipliers(sa, sb, so, mult, shift);
        tm_rt_add(a, za, b, zb, N, mult, shift, zo, lo, hi, got);
        for (int i = 0; i < N; i++) {
            int64_t s = ref_requant((int64_t)(a[i] - za) << 20, mult[0], shift[0]) +
                        ref_requant((int64_t)(b[i] - zb) << 20, mult[1], shift[1]);
            int64_t v = ref_requant(s, mult[2], shift[2]) + zo;
            v = v < lo ? lo : v > hi ? hi : v;
            ck_assert_msg(got[i] == v, "trial %d element %d: %d, reference %lld", trial, i,
                          got[i], (long long)v);
            /* And the multipliers mean the real sum, to within one step. */
            double real = ((a[i] - za) * (double)sa + (b[i] - zb) * (double)sb) / so + zo;
            real = real < lo ? lo : real > hi ? hi : real;
            ck_assert_msg(fabs(real - (double)v) <= 1.0, "trial %d element %d: %lld for %.3f",
                          trial, i, (long long)v, real);
            near += fabs(real - (double)v) <= 0.5 + 1e-9;
            total++;
        }
    }
    /* Rounding to nearest nearly everywhere, not just within one step. */
    ck_assert_int_ge(near * 100, total * 99);
}
END_TEST

/* ---- the float op ------------------------------------------------------------------ */

static tm_status add_graph(tm_tape *t, tm_tensor **in, int n, void *ctx, tm_tensor **out)
{
    (void)n;
    int twice = *(int *)ctx;
    tm_tensor *h = NULL;
    /* Through a relu so the second input's gradient is not the first's. */
    TM_TRY(tm_relu(t, in[1], &h));
    return tm_add(t, in[0], twice ? in[0] : h, out);
}

START_TEST(add_gradient_matches_finite_differences)
{
    tm_pool *pool = NULL;
    TM_CK(tm_pool_new(&pool, 2));
    tm_tape t;
    TM_CK(tm_tape_init(&t, pool, 1));
    tm_rng r;
    tm_rng_seed(&r, 3);
    int shape[4] = {2, 3, 4, 5};
    for (int twice = 0; twice < 2; twice++) {
        tm_tensor *in[2] = {tm_test_tensor(&r, 4, shape, -1, 1, 1),
                            tm_test_tensor(&r, 4, shape, -1, 1, 1)};
        for (size_t i = 0; i < in[1]->size; i++)
            if (fabsf(in[1]->data[i]) < 0.05f)
                in[1]->data[i] = 0.1f;
        tm_gradcheck_report rep;
        TM_CK(tm_gradcheck(&t, add_graph, &twice, in, 2, 1e-2, 1e-3, &rep));
        ck_assert_uint_eq(rep.checked, in[0]->size + in[1]->size);
        tm_tensor_free(in[0]);
        tm_tensor_free(in[1]);
    }
    int other[2] = {2, 60};
    tm_tensor *a = tm_test_tensor(&r, 4, shape, -1, 1, 0), *b = tm_test_tensor(&r, 2, other, -1, 1, 0);
    tm_tensor *y = NULL;
    ck_assert_int_eq(tm_add(&t, a, b, &y), TM_ERR_SHAPE);
    tm_tensor_free(a);
    tm_tensor_free(b);
    tm_tape_free(&t);
    tm_pool_free(pool);
}
END_TEST

/* ---- the experiment file ------------------------------------------------------------ */

static const char *base_cfg =
    "[experiment]\nname = r\n\n[data]\nsource = synthetic\nclasses = 4\n\n"
    "[image]\ninput = 1x8x8\n\n"                                   /* lines 8-10 */
    "[image.c1]\ntype = conv\nfilters = 4\npadding = same\n\n"     /* 11-15 */
    "[image.c2]\ntype = conv\nfilters = 4\npadding = same\n\n"     /* 16-20 */
    "[image.res]\ntype = add\nfrom = %s\n\n"                       /* 21-24 */
    "[image.flat]\ntype = flatten\n\n"
    "[head.out]\ntype = dense\nunits = classes\n";

static void expect_cfg_error(const char *from, int build, const char *want)
{
    char text[2048];
    snprintf(text, sizeof text, base_cfg, from);
    tm_experiment e;
    tm_status s = tm_experiment_parse(&e, text, "res.cfg", NULL, 0);
    if (build) {
        TM_CK(s);
        tm_experiment_set_classes(&e, 4);
        tm_rng r;
        tm_rng_seed(&r, 1);
        tm_model *m = NULL;
        s = tm_model_build(&m, &e.model, &r);
        tm_model_free(m);
        tm_experiment_free(&e);
    }
    ck_assert_int_ne(s, TM_OK);
    ck_assert_msg(strstr(tm_last_error(), want) != NULL, "error '%s' lacks '%s'", tm_last_error(),
                  want);
}

START_TEST(add_errors_name_file_line_and_reason)
{
    expect_cfg_error("c9", 0,
                     "res.cfg:23: [image.res] from = c9: no earlier layer of this branch is "
                     "called 'c9' (the earlier ones: c1, c2)");
    expect_cfg_error("res", 0, "no earlier layer of this branch is called 'res'");
    /* Both by the short and the section name. */
    char text[2048];
    tm_experiment e;
    snprintf(text, sizeof text, base_cfg, "image.c1");
    TM_CK(tm_experiment_parse(&e, text, "res.cfg", NULL, 0));
    tm_experiment_free(&e);
    expect_cfg_error("c1\n\n[image.pool]\ntype = maxpool\n\n[image.res2]\ntype = add\nfrom = c2",
                     1, "res.cfg:28: [image.res2] from = c2 gives 4x8x8, which is not the shape "
                        "of this layer's input (input 4x4x4)");
    snprintf(text, sizeof text, base_cfg, "c1");
    char *cut = strstr(text, "from = c1");
    memcpy(cut, "rate = 0.5", 10);
    ck_assert_int_ne(tm_experiment_parse(&e, text, "res.cfg", NULL, 0), TM_OK);
    ck_assert_msg(strstr(tm_last_error(), "res.cfg:23: [image.res] unknown key 'rate'") != NULL, "%s",
                  tm_last_error());
    /* Quantisation merges a standalone relu into c1, so the add would read
     * c1 after the relu the float model applies later: refused. */
    snprintf(text, sizeof text, base_cfg, "c1");
    char *c2 = strstr(text, "[image.c2]");
    /* Same length and lines as the [image.c2] section it replaces. */
    memcpy(c2, "[image.rl]\ntype = relu\n; -----------------------\n\n", 50);
    TM_CK(tm_experiment_parse(&e, text, "res.cfg", NULL, 0));
    tm_experiment_set_classes(&e, 4);
    tm_rng r;
    tm_rng_seed(&r, 1);
    tm_model *m = NULL;
    TM_CK(tm_model_build(&m, &e.model, &r));
    tm_qat *q = NULL;
    ck_assert_int_eq(tm_qat_new(&q, m, NULL), TM_ERR_CONFIG);
    ck_assert_msg(strstr(tm_last_error(), "image.res (line 21): from = c1, but image.rl is merged "
                                          "into it") != NULL,
                  "%s", tm_last_error());
    tm_model_free(m);
    tm_experiment_free(&e);
    snprintf(text, sizeof text, base_cfg, "c1");
    cut = strstr(text, "from = c1");
    memcpy(cut, "\n\n\n\n\n\n\n\n\n\n", 10);
    ck_assert_int_ne(tm_experiment_parse(&e, text, "res.cfg", NULL, 0), TM_OK);
    ck_assert_msg(strstr(tm_last_error(), "res.cfg:21: [image.res]: an add needs from") != NULL,
                  "%s", tm_last_error());
}
END_TEST

/* ---- trained, quantised, exported, run ------------------------------------------------ */

static int run(const char *fmt, const char *a, const char *b, const char *c)
{
    char cmd[16384], out[1 << 16];
    snprintf(cmd, sizeof cmd, fmt, getenv("TM_BUILD_DIR"), a, b, c);
    int rc = tm_test_run_cmd(cmd, out, sizeof out);
    ck_assert_msg(rc == 0, "%s\n%s", cmd, out);
    return rc;
}

/* train_loss of the first and last epochs of a log.csv. */
static void first_last_loss(const char *path, double *first, double *last)
{
    size_t n = 0;
    char *text = tm_test_slurp(path, &n), *p = strchr(text, '\n');
    int rows = 0;
    while (p && p[1]) {
        double v = 0;
        ck_assert_int_eq(sscanf(p + 1, "%*d,%*g,%lg", &v), 1);
        if (rows++ == 0)
            *first = v;
        *last = v;
        p = strchr(p + 1, '\n');
    }
    ck_assert_int_ge(rows, 2);
    free(text);
}

START_TEST(residual_trains_quantises_exports_and_runs_bit_exact)
{
    if (!getenv("TM_BUILD_DIR")) {
        printf("skip: TM_BUILD_DIR not set (run through ctest)\n");
        return;
    }
    char *dir = tm_test_tmpdir("residual");
    char cfg[4200], path[4300];
    snprintf(cfg, sizeof cfg, "%s/experiments/quickstart-residual.cfg", tm_test_source_dir());
    run("'%s/tinym2net' train '%s' --set train.epochs=3 --set data.train_samples=1500 "
        "--out '%s/run' --quiet 2>&1%s",
        cfg, dir, "");
    double first = 0, last = 0;
    snprintf(path, sizeof path, "%s/run/log.csv", dir);
    first_last_loss(path, &first, &last);
    ck_assert_msg(last < 0.8 * first, "training loss %g -> %g", first, last);
    run("'%s/tinym2net' quantize '%s/run' --out '%s/q' --preset paper --qat-epochs 1 "
        "--calib-batches 20 --quiet 2>&1%s",
        dir, dir, "");
    run("'%s/tinym2net' export '%s/q' -o '%s/model.tm2n' --inputs features --quiet 2>&1%s", dir,
        dir, "");

    /* The integer simulation of the quantised run, on every test sample. */
    char *text = NULL;
    snprintf(path, sizeof path, "%s/q/qmodel.h5", dir);
    TM_CK(tm_read_experiment_text(path, &text));
    tm_experiment e;
    TM_CK(tm_experiment_parse(&e, text, path, NULL, 0));
    free(text);
    tm_splits data;
    TM_CK(tm_load_splits(&e, &data, NULL));
    tm_experiment_set_classes(&e, data.train.n_classes);
    tm_rng r;
    tm_rng_seed(&r, e.seed);
    tm_model *m = NULL;
    TM_CK(tm_model_build(&m, &e.model, &r));
    int map[TM_MAX_BRANCHES];
    TM_CK(tm_match_branches(&e, &m->spec, &data.test, map));
    size_t qsize = 0, size = 0;
    snprintf(path, sizeof path, "%s/q/model.tm2n", dir);
    char *qbytes = tm_test_slurp(path, &qsize);
    tm_qsim sim;
    TM_CK(tm_qsim_open(&sim, m, qbytes, qsize));
    tm_qat_data v;
    memset(&v, 0, sizeof v);
    v.n = data.test.n;
    v.label = data.test.label;
    for (int b = 0; b < m->spec.n_branches; b++)
        v.x[b] = data.test.x[map[b]];
    int k = m->spec.n_classes, n = v.n;
    int8_t *want = malloc((size_t)n * k), *got = malloc((size_t)n * k);
    ck_assert(want && got);
    TM_CK(tm_qsim_predict(&sim, &v, NULL, want));

    /* The exported file, opened and run on its own. */
    snprintf(path, sizeof path, "%s/model.tm2n", dir);
    char *bytes = tm_test_slurp(path, &size);
    tm_rt_model rm;
    ck_assert_int_eq(tm_rt_model_open(&rm, bytes, size), TM_RT_OK);
    int adds = 0;
    for (uint32_t op = 0; op < rm.n_ops; op++) {
        if (rm.ops[op].type != TM_RT_OP_ADD)
            continue;
        adds++;
        /* The skip tensor outlives every op between its producer and the add. */
        int32_t skip = rm.ops[op].inputs[1];
        uint32_t from = 0;
        while (rm.ops[from].output != skip)
            from++;
        const tm_rt_tensor_desc *s = &rm.tensors[skip];
        uint32_t s0 = s->arena_offset, s1 = s0 + (uint32_t)(s->c * s->h * s->w);
        for (uint32_t j = from + 1; j <= op; j++) {
            const tm_rt_tensor_desc *o = &rm.tensors[rm.ops[j].output];
            uint32_t o0 = o->arena_offset, o1 = o0 + (uint32_t)(o->c * o->h * o->w);
            ck_assert_msg(o1 <= s0 || s1 <= o0, "op %u's output overwrites the skip of op %u", j,
                          op);
        }
        ck_assert_uint_gt(op, from + 1);
    }
    ck_assert_int_eq(adds, 3);
    void *mem = malloc(tm_rt_model_memory_bytes(&rm));
    ck_assert_ptr_nonnull(mem);
    int right = 0, differ = 0;
    for (int s = 0; s < n; s++) {
        for (uint32_t i = 0; i < rm.n_inputs; i++) {
            int mod = tm_dataset_find(&data.test, rm.inputs[i].name);
            ck_assert_int_ge(mod, 0);
            size_t dim = data.test.mod[mod].dim;
            ck_assert_int_eq(tm_rt_model_set_features(&rm, mem, (int)i,
                                                      data.test.x[mod] + (size_t)s * dim),
                             TM_RT_OK);
        }
        ck_assert_int_eq(tm_rt_model_invoke(&rm, mem), TM_RT_OK);
        memcpy(got + (size_t)s * k, tm_rt_model_logits(&rm, mem), (size_t)k);
        int best = 0;
        for (int c = 1; c < k; c++)
            best = got[(size_t)s * k + c] > got[(size_t)s * k + best] ? c : best;
        right += best == data.test.label[s];
        differ += memcmp(got + (size_t)s * k, got, (size_t)k) != 0;
    }
    for (int i = 0; i < n * k; i++)
        ck_assert_msg(got[i] == want[i], "sample %d class %d: runtime %d, simulation %d", i / k,
                      i % k, got[i], want[i]);
    /* Not a constant model: it learned the classes. */
    ck_assert_int_gt(differ, n / 2);
    ck_assert_int_gt(right * 2, n);
    fprintf(stderr, "test_residual: loss %.4f -> %.4f; %d test samples, runtime = simulation, "
                    "accuracy %d/%d\n",
            first, last, n, right, n);
    free(mem);
    free(bytes);
    free(qbytes);
    free(want);
    free(got);
    tm_qsim_close(&sim);
    tm_model_free(m);
    tm_splits_free(&data);
    tm_experiment_free(&e);
    snprintf(path, sizeof path, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(path), 0);
    free(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("residual");
    TCase *c = tcase_create("residual");
    tcase_set_timeout(c, 300);
    tcase_add_test(c, add_kernel_matches_reference);
    tcase_add_test(c, add_gradient_matches_finite_differences);
    tcase_add_test(c, add_errors_name_file_line_and_reason);
    tcase_add_test(c, residual_trains_quantises_exports_and_runs_bit_exact);
    suite_add_tcase(s, c);
    return tm_test_run(s);
}
