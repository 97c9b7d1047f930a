/* Parity of the deployed model with the training side's integer simulation:
 * a small model is trained, quantised (--preset paper, mixed 8/4 bits) and
 * exported with the real commands; then for EVERY test sample the int8
 * logits of the runtime must equal tm_qsim_predict's exactly, on x86-64
 * and on aarch64 (cross-compiled, run under qemu-aarch64).
 *
 * With TINYM2NET_DATA: avdigits, raw inputs (PCM through the runtime's
 * front end, PNG pixels) run by build/tinym2net-run. Without it: the
 * built-in synthetic quickstart set, whose inputs are ready features.
 * Exit 77 (ctest's skip) when the aarch64 part cannot run: cross tools or
 * qemu missing; everything that could run has passed by then. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "tm_data_load.h"
#include "tm_lower.h"
#include "tm_test_util.h"
#include "tm_run_folder.h"
#include "tm_train.h"

#define SKIP 77

static int aarch64_skipped;
static char skip_reason[256];

/* A logits CSV ("row,<classes>" then "r,l0,...") into rows x k int8. */
static int8_t *read_logits(const char *path, int rows, int k)
{
    size_t n = 0;
    char *text = tm_test_slurp(path, &n);
    int8_t *l = malloc((size_t)rows * k);
    ck_assert_ptr_nonnull(l);
    char *p = strchr(text, '\n');
    ck_assert_ptr_nonnull(p);
    for (int r = 0; r < rows; r++) {
        char *end = NULL;
        long row = strtol(p + 1, &end, 10);
        ck_assert_msg(end != p + 1 && row == r, "%s: row %d missing", path, r);
        p = end;
        for (int c = 0; c < k; c++) {
            ck_assert_msg(*p == ',', "%s: row %d has fewer than %d logits", path, r, k);
            long v = strtol(p + 1, &end, 10);
            ck_assert(v >= -128 && v <= 127);
            l[(size_t)r * k + c] = (int8_t)v;
            p = end;
        }
        ck_assert_msg(*p == '\n', "%s: row %d has more than %d logits", path, r, k);
    }
    ck_assert_msg(p[1] == '\0', "%s: more than %d rows", path, rows);
    free(text);
    return l;
}

static int argmax_i8(const int8_t *l, int k)
{
    int best = 0;
    for (int c = 1; c < k; c++)
        if (l[c] > l[best])
            best = c;
    return best;
}

/* Every logit of every row; the first difference names the row. */
static void assert_same_logits(const int8_t *a, const int8_t *b, int rows, int k,
                               const char *what)
{
    int bad = 0, first = -1;
    for (int r = 0; r < rows; r++)
        if (memcmp(a + (size_t)r * k, b + (size_t)r * k, (size_t)k)) {
            bad++;
            if (first < 0)
                first = r;
        }
    if (bad) {
        char line[512];
        int at = snprintf(line, sizeof line, "row %d:", first);
        for (int c = 0; c < k && at < (int)sizeof line - 16; c++)
            at += snprintf(line + at, sizeof line - at, " %d/%d", a[(size_t)first * k + c],
                           b[(size_t)first * k + c]);
        ck_abort_msg("%s: %d of %d rows differ; %s", what, bad, rows, line);
    }
}

static void put_u32(FILE *f, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    ck_assert_uint_eq(fwrite(b, 1, 4, f), 4);
}

/* The aarch64 build of runtime/tools/tm_rt_run_inputs.c under qemu must
 * print exactly the logits the host computed (want: rows x k). */
static void check_aarch64(const char *dir, const char *model, const char *inputs,
                          const int8_t *want, int rows, int k)
{
    const char *src = tm_test_source_dir();
    char cmd[16384], out[1 << 14], a64[4200];
    snprintf(cmd, sizeof cmd,
             "bash '%s/runtime/tools/cross.sh' program aarch64 '%s/a64' "
             "'%s/runtime/tools/tm_rt_run_inputs.c' 2>&1",
             src, dir, src);
    int rc = tm_test_run_cmd(cmd, out, sizeof out);
    if (rc == SKIP) {
        aarch64_skipped = 1;
        snprintf(skip_reason, sizeof skip_reason, "%.200s", out);
        return;
    }
    ck_assert_msg(rc == 0, "cross build failed:\n%s", out);
    if (tm_test_run_cmd("command -v qemu-aarch64 >/dev/null 2>&1", out, sizeof out) != 0) {
        aarch64_skipped = 1;
        snprintf(skip_reason, sizeof skip_reason, "qemu-aarch64 not found");
        return;
    }
    snprintf(a64, sizeof a64, "%s/aarch64.csv", dir);
    snprintf(cmd, sizeof cmd,
             "qemu-aarch64 -cpu cortex-a72 -L /usr/aarch64-linux-gnu '%s/a64/tm_rt_run_inputs' "
             "'%s' '%s' > '%s' 2>&1",
             dir, model, inputs, a64);
    rc = tm_test_run_cmd(cmd, out, sizeof out);
    if (rc != 0) {
        size_t n = 0;
        char *msg = tm_test_slurp(a64, &n);
        ck_abort_msg("the aarch64 runner failed (%d): %.2000s", rc, msg);
    }
    int8_t *got = read_logits(a64, rows, k);
    assert_same_logits(want, got, rows, k, "aarch64 (qemu) vs x86-64 runtime");
    fprintf(stderr, "test_parity: aarch64 (qemu-aarch64 -cpu cortex-a72) logits equal x86-64's "
                    "on all %d rows\n",
            rows);
    free(got);
}

/* The integer simulation of QDIR on the test split: logits (n x k) and
 * labels, as `tinym2net quantize` computed test_accuracy. */
static void simulate(const char *qdir, tm_splits *data, int8_t **logits, int *n_out, int *k_out)
{
    char qpath[4300], mpath[4300];
    snprintf(qpath, sizeof qpath, "%s/qmodel.h5", qdir);
    snprintf(mpath, sizeof mpath, "%s/model.tm2n", qdir);
    tm_experiment e;
    TM_CK(tm_run_read_experiment(&e, qpath, NULL, 0));
    TM_CK(tm_load_splits(&e, data, NULL));
    tm_experiment_set_classes(&e, data->train.n_classes);
    tm_rng r;
    tm_rng_seed(&r, e.seed);
    tm_model *m = NULL;
    TM_CK(tm_model_build(&m, &e.model, &r));
    int map[TM_MAX_BRANCHES];
    TM_CK(tm_match_branches(&e, &m->spec, &data->test, map));
    size_t size = 0;
    char *bytes = tm_test_slurp(mpath, &size);
    tm_qsim sim;
    TM_CK(tm_qsim_open(&sim, m, bytes, size));
    tm_qat_data v;
    memset(&v, 0, sizeof v);
    v.n = data->test.n;
    v.label = data->test.label;
    for (int b = 0; b < m->spec.n_branches; b++)
        v.x[b] = data->test.x[map[b]];
    int k = m->spec.n_classes;
    *logits = malloc((size_t)v.n * k);
    float *probs = malloc(sizeof(float) * (size_t)v.n * k);
    ck_assert(*logits && probs);
    TM_CK(tm_qsim_predict(&sim, &v, probs, *logits));
    *n_out = v.n;
    *k_out = k;
    free(probs);
    tm_qsim_close(&sim);
    free(bytes);
    tm_model_free(m);
    tm_experiment_free(&e);
}

static int accuracy_count(const int8_t *logits, const int *labels, int n, int k)
{
    int right = 0;
    for (int i = 0; i < n; i++)
        right += argmax_i8(logits + (size_t)i * k, k) == labels[i];
    return right;
}

/* train (short), quantize --preset paper, export: the real commands. */
static void make_model(const char *dir, const char *cfg, const char *export_args)
{
    const char *b = getenv("TM_BUILD_DIR");
    char cmd[16384], out[1 << 16];
    snprintf(cmd, sizeof cmd,
             "'%s/tinym2net' train '%s/%s' --set train.epochs=2 --out '%s/run' --quiet 2>&1", b,
             tm_test_source_dir(), cfg, dir);
    ck_assert_msg(tm_test_run_cmd(cmd, out, sizeof out) == 0, "%s\n%s", cmd, out);
    snprintf(cmd, sizeof cmd,
             "'%s/tinym2net' quantize '%s/run' --out '%s/q' --preset paper --qat-epochs 1 "
             "--calib-batches 20 --quiet 2>&1",
             b, dir, dir);
    ck_assert_msg(tm_test_run_cmd(cmd, out, sizeof out) == 0, "%s\n%s", cmd, out);
    snprintf(cmd, sizeof cmd, "'%s/tinym2net' export '%s/q' -o '%s/model.tm2n' %s 2>&1", b, dir,
             dir, export_args);
    ck_assert_msg(tm_test_run_cmd(cmd, out, sizeof out) == 0, "%s\n%s", cmd, out);
    fprintf(stderr, "%s", out);
}

/* avdigits: raw PCM and pixels through the runtime (tinym2net-run) against
 * the simulation's features path. */
static void parity_avdigits(const char *dir)
{
    const char *b = getenv("TM_BUILD_DIR");
    make_model(dir, "experiments/avdigits/fused-compressed.cfg", "");
    char cmd[32768], out[1 << 16], model[4200], inputs[4200], logits_csv[4200], scores[4200];
    snprintf(model, sizeof model, "%s/model.tm2n", dir);
    snprintf(inputs, sizeof inputs, "%s/inputs.bin", dir);
    snprintf(logits_csv, sizeof logits_csv, "%s/x86.csv", dir);
    snprintf(scores, sizeof scores, "%s/scores.csv", dir);
    snprintf(cmd, sizeof cmd,
             "'%s/tinym2net-run' '%s' --manifest '%s/avdigits/test.csv' --logits '%s' --scores "
             "'%s' --dump-inputs '%s' --quiet 2>&1",
             b, model, tm_test_data_dir(), logits_csv, scores, inputs);
    ck_assert_msg(tm_test_run_cmd(cmd, out, sizeof out) == 0, "%s\n%s", cmd, out);
    fprintf(stderr, "%s", out);
    const char *acc_line = strstr(out, "accuracy ");
    ck_assert_ptr_nonnull(acc_line);
    int run_right = -1, run_n = -1;
    ck_assert_int_eq(sscanf(strstr(acc_line, "(") + 1, "%d/%d", &run_right, &run_n), 2);

    /* The exported model takes raw inputs; the simulated one features. */
    size_t size = 0;
    char *bytes = tm_test_slurp(model, &size);
    tm_rt_model m;
    ck_assert_int_eq(tm_rt_model_open(&m, bytes, size), TM_RT_OK);
    int kinds = 0;
    for (uint32_t i = 0; i < m.n_inputs; i++)
        kinds |= 1 << m.inputs[i].kind;
    ck_assert_int_eq(kinds, (1 << TM_RT_INPUT_AUDIO) | (1 << TM_RT_INPUT_IMAGE));
    free(bytes);

    char qdir[4200];
    snprintf(qdir, sizeof qdir, "%s/q", dir);
    tm_splits data;
    int8_t *sim = NULL;
    int n = 0, k = 0;
    simulate(qdir, &data, &sim, &n, &k);
    ck_assert_int_eq(n, run_n);
    int8_t *rt = read_logits(logits_csv, n, k);
    /* Same rows in the same order: the labels agree. */
    size_t sn = 0;
    char *sc = tm_test_slurp(scores, &sn);
    char *p = strchr(sc, '\n');
    for (int r = 0; r < n; r++) {
        char lab[64];
        int row = -1;
        ck_assert_int_eq(sscanf(p + 1, "%d,%63[^,]", &row, lab), 2);
        ck_assert_int_eq(row, r);
        ck_assert_str_eq(lab, data.test.class_names[data.test.label[r]]);
        p = strchr(p + 1, '\n');
    }
    free(sc);
    assert_same_logits(sim, rt, n, k, "runtime on raw inputs vs integer simulation");
    int sim_right = accuracy_count(sim, data.test.label, n, k);
    ck_assert_int_eq(sim_right, run_right);
    snprintf(cmd, sizeof cmd, "%s/q/metrics.json", dir);
    json_t *metrics = tm_test_json_file(cmd);
    double acc = tm_test_json_num(metrics, "test_accuracy");
    ck_assert_msg(fabs(acc - (double)run_right / n) < 1e-9,
                  "tinym2net-run accuracy %d/%d, metrics.json test_accuracy %.10f", run_right, n,
                  acc);
    json_decref(metrics);
    fprintf(stderr, "test_parity: avdigits, %d test rows: runtime (raw PCM + pixels) logits equal "
                    "the integer simulation's; accuracy %d/%d both\n",
            n, run_right, n);
    check_aarch64(dir, model, inputs, rt, n, k);
    free(rt);
    free(sim);
    tm_splits_free(&data);
}

/* Synthetic quickstart: ready features through the runtime API. */
static void parity_synthetic(const char *dir)
{
    make_model(dir, "experiments/quickstart.cfg", "");
    char qdir[4200], model[4200], inputs[4200];
    snprintf(qdir, sizeof qdir, "%s/q", dir);
    snprintf(model, sizeof model, "%s/model.tm2n", dir);
    snprintf(inputs, sizeof inputs, "%s/inputs.bin", dir);
    tm_splits data;
    int8_t *sim = NULL;
    int n = 0, k = 0;
    simulate(qdir, &data, &sim, &n, &k);

    size_t size = 0;
    char *bytes = tm_test_slurp(model, &size);
    tm_rt_model m;
    ck_assert_int_eq(tm_rt_model_open(&m, bytes, size), TM_RT_OK);
    void *mem = malloc(tm_rt_model_memory_bytes(&m));
    int8_t *rt = calloc((size_t)n * k, 1);
    ck_assert(mem && rt);
    FILE *f = fopen(inputs, "wb");
    ck_assert_ptr_nonnull(f);
    put_u32(f, 0x49524D54u);
    put_u32(f, 1);
    put_u32(f, (uint32_t)n);
    put_u32(f, m.n_inputs);
    int mod[TM_RT_MAX_MODEL_INPUTS];
    for (uint32_t i = 0; i < m.n_inputs; i++) {
        ck_assert_int_eq(m.inputs[i].kind, TM_RT_INPUT_FEATURES);
        ck_assert(m.inputs[i].std == 0.0f); /* the synthetic set is not standardised */
        mod[i] = tm_dataset_find(&data.test, m.inputs[i].name);
        ck_assert_int_ge(mod[i], 0);
        ck_assert_uint_eq(tm_rt_model_input_floats(&m, (int)i), data.test.mod[mod[i]].dim);
        put_u32(f, TM_RT_INPUT_FEATURES);
        put_u32(f, (uint32_t)data.test.mod[mod[i]].dim);
    }
    for (int r = 0; r < n; r++) {
        for (uint32_t i = 0; i < m.n_inputs; i++) {
            size_t dim = data.test.mod[mod[i]].dim;
            const float *x = data.test.x[mod[i]] + (size_t)r * dim;
            ck_assert_uint_eq(fwrite(x, sizeof(float), dim, f), dim);
            ck_assert_int_eq(tm_rt_model_set_features(&m, mem, (int)i, x), TM_RT_OK);
        }
        ck_assert_int_eq(tm_rt_model_invoke(&m, mem), TM_RT_OK);
        memcpy(rt + (size_t)r * k, tm_rt_model_logits(&m, mem), (size_t)k);
    }
    ck_assert_int_eq(fclose(f), 0);
    assert_same_logits(sim, rt, n, k, "exported model vs integer simulation");
    fprintf(stderr, "test_parity: synthetic quickstart, %d test rows: runtime logits equal the "
                    "integer simulation's (accuracy %d/%d)\n",
            n, accuracy_count(rt, data.test.label, n, k), n);
    check_aarch64(dir, model, inputs, rt, n, k);
    free(rt);
    free(mem);
    free(bytes);
    free(sim);
    tm_splits_free(&data);
}

START_TEST(parity)
{
    if (!getenv("TM_BUILD_DIR")) {
        printf("skip: TM_BUILD_DIR not set (run through ctest)\n");
        aarch64_skipped = 1;
        snprintf(skip_reason, sizeof skip_reason, "TM_BUILD_DIR not set");
        return;
    }
    char *dir = tm_test_tmpdir("parity");
    ck_assert_ptr_nonnull(dir);
    if (tm_test_data_dir())
        parity_avdigits(dir);
    else
        parity_synthetic(dir);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
    free(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("parity");
    TCase *c = tcase_create("parity");
    tcase_set_timeout(c, 600);
    tcase_add_test(c, parity);
    suite_add_tcase(s, c);
    SRunner *sr = srunner_create(s);
    /* No fork: the skip flag set by the test must reach main. */
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    if (failed)
        return EXIT_FAILURE;
    if (aarch64_skipped) {
        printf("aarch64 parity skipped: %s\n", skip_reason);
        return SKIP;
    }
    if (!tm_test_data_dir())
        printf("TINYM2NET_DATA not set: checked the synthetic quickstart (features inputs); "
               "avdigits raw-input parity needs the data\n");
    return EXIT_SUCCESS;
}
