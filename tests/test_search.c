/* Precision search: the exact choice against enumeration (random instances
 * and a hand-worked case where the best ratio first is wrong), the coarse DP
 * and the solver's switch, rejected inputs and budgets, the per-layer costs
 * and sensitivity on a trained model, and `tinym2net search` end to end. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "tm_qrun.h"
#include "tm_search.h"
#include "tm_test_util.h"

/* ---- the solver --------------------------------------------------------- */

static double damage_of(int n, const double *damage, const int *bits)
{
    double d = 0.0;
    for (int i = 0; i < n; i++)
        if (bits[i] == 4)
            d += damage[i];
    return d;
}

static long bytes_of(int n, const long *b8, const long *b4, const int *bits)
{
    long b = 0;
    for (int i = 0; i < n; i++) {
        ck_assert(bits[i] == 4 || bits[i] == 8);
        b += bits[i] == 8 ? b8[i] : b4[i];
    }
    return b;
}

/* Every 2^n assignment, written here independently of tm_search_exhaustive. */
static double brute_force(int n, const long *b8, const long *b4, const double *damage,
                          long budget)
{
    double best = INFINITY;
    for (unsigned mask = 0; mask < (1u << n); mask++) {
        long b = 0;
        double d = 0.0;
        for (int i = 0; i < n; i++) {
            int eight = (mask >> i) & 1;
            b += eight ? b8[i] : b4[i];
            d += eight ? 0.0 : damage[i];
        }
        if (b <= budget && d < best)
            best = d;
    }
    return best;
}

START_TEST(dp_equals_brute_force_on_random_instances)
{
    tm_rng r;
    tm_rng_seed(&r, 20241124);
    long b8[12], b4[12];
    double damage[12];
    int bits[12], bits2[12];
    int coarse_worse = 0;
    for (int trial = 0; trial < 2000; trial++) {
        int n = 1 + (int)tm_rng_below(&r, 12);
        long all4 = 0, all8 = 0;
        for (int i = 0; i < n; i++) {
            /* layer-like sizes: small convs and large dense layers, some equal */
            long per = 1 + (long)tm_rng_below(&r, trial % 3 == 0 ? 2000 : 60);
            b4[i] = per + (long)tm_rng_below(&r, 40);
            b8[i] = tm_rng_below(&r, 10) == 0 ? b4[i] : b4[i] + per;
            damage[i] = tm_rng_below(&r, 8) == 0 ? -0.01 * tm_rng_uniform(&r)
                        : tm_rng_below(&r, 10) == 0 ? 0.0
                                                    : (double)tm_rng_uniform(&r);
            if (trial % 7 == 0)
                damage[i] = (double)(1 + tm_rng_below(&r, 3)); /* many ties */
            all4 += b4[i];
            all8 += b8[i];
        }
        long budget = all4 + (long)tm_rng_below(&r, (uint32_t)(all8 - all4 + 20));
        double want = brute_force(n, b8, b4, damage, budget);
        tm_search_result res;
        TM_CK(tm_search_dp(n, b8, b4, damage, budget, 1, bits, &res));
        ck_assert_int_eq(res.method, TM_SEARCH_DP);
        ck_assert_int_eq(res.granularity, 1);
        ck_assert_int_le(bytes_of(n, b8, b4, bits), budget);
        ck_assert_int_eq(res.bytes, bytes_of(n, b8, b4, bits));
        ck_assert_msg(fabs(res.damage - want) < 1e-9, "trial %d (n %d): dp %.12f, brute %.12f",
                      trial, n, res.damage, want);
        ck_assert(fabs(res.damage - damage_of(n, damage, bits)) < 1e-12);
        for (int i = 0; i < n; i++)
            if (damage[i] <= 0.0)
                ck_assert_int_eq(bits[i], 4);

        TM_CK(tm_search_exhaustive(n, b8, b4, damage, budget, bits2, &res));
        ck_assert_int_eq(res.method, TM_SEARCH_EXHAUSTIVE);
        ck_assert_int_le(bytes_of(n, b8, b4, bits2), budget);
        ck_assert(fabs(res.damage - want) < 1e-9);
        TM_CK(tm_search_solve(n, b8, b4, damage, budget, bits2, &res));
        ck_assert(fabs(res.damage - want) < 1e-9);

        /* a coarse unit always fits and is never better than the optimum */
        long g = 1 + (long)tm_rng_below(&r, 64);
        TM_CK(tm_search_dp(n, b8, b4, damage, budget, g, bits2, &res));
        ck_assert_int_eq(res.granularity, g);
        ck_assert_int_le(bytes_of(n, b8, b4, bits2), budget);
        ck_assert(res.damage >= want - 1e-9);
        coarse_worse += res.damage > want + 1e-9;
    }
    /* the random instances do exercise budgets the coarse unit cannot use */
    ck_assert_int_gt(coarse_worse, 0);
}
END_TEST

/* Keeping A at 8 bits costs 50 and avoids 1.0, B 30 for 0.66, C 25 for
 * 0.45, D (damage < 0) is better at 4 bits. With 50 spare bytes the best
 * ratio first (B) leaves room for nothing else: 0.66 avoided; A alone
 * avoids 1.0. With 55, B + C (1.11) beat A. */
START_TEST(hand_worked_case)
{
    const long b8[4] = {100, 60, 50, 10}, b4[4] = {50, 30, 25, 5};
    const double damage[4] = {1.0, 0.66, 0.45, -0.1};
    int bits[4];
    tm_search_result res;
    TM_CK(tm_search_dp(4, b8, b4, damage, 110 + 50, 1, bits, &res));
    ck_assert_int_eq(bits[0], 8);
    ck_assert_int_eq(bits[1], 4);
    ck_assert_int_eq(bits[2], 4);
    ck_assert_int_eq(bits[3], 4);
    ck_assert_int_eq(res.bytes, 160);
    ck_assert_double_eq_tol(res.damage, 0.66 + 0.45 - 0.1, 1e-12);

    TM_CK(tm_search_dp(4, b8, b4, damage, 110 + 55, 1, bits, &res));
    ck_assert_int_eq(bits[0], 4);
    ck_assert_int_eq(bits[1], 8);
    ck_assert_int_eq(bits[2], 8);
    ck_assert_int_eq(bits[3], 4);
    ck_assert_int_eq(res.bytes, 165);
    ck_assert_double_eq_tol(res.damage, 1.0 - 0.1, 1e-12);

    /* the all-4-bit size exactly, and more than the all-8-bit size */
    TM_CK(tm_search_solve(4, b8, b4, damage, 110, bits, &res));
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(bits[i], 4);
    ck_assert_double_eq_tol(res.damage, 2.01, 1e-12);
    TM_CK(tm_search_solve(4, b8, b4, damage, 100000, bits, &res));
    ck_assert_int_eq(bits[0] + bits[1] + bits[2], 24);
    ck_assert_int_eq(bits[3], 4);
    ck_assert_int_eq(res.bytes, 215);

    /* granularity 10: A's 50 is 5 units, B's 30 3 and C's 25 rounds up to 3;
     * 59 spare bytes are 5 units, so B + C (6 units) no longer fit */
    TM_CK(tm_search_dp(4, b8, b4, damage, 110 + 59, 10, bits, &res));
    ck_assert_int_eq(bits[0], 8);
    ck_assert_int_eq(res.bytes, 160);
}
END_TEST

START_TEST(large_budgets_switch_method)
{
    /* 1,200,000 spare bytes need a coarser DP unit: enumeration stays exact */
    long b8[22], b4[22];
    double damage[22];
    int bits[22];
    for (int i = 0; i < 22; i++) {
        b4[i] = 100000 + 7919L * i;
        b8[i] = 2 * b4[i] + (i % 3);
        damage[i] = 1.0 / (1 + i);
    }
    long all4 = 0;
    for (int i = 0; i < 12; i++)
        all4 += b4[i];
    long budget = all4 + 1200000;
    double want = brute_force(12, b8, b4, damage, budget);
    tm_search_result res;
    TM_CK(tm_search_solve(12, b8, b4, damage, budget, bits, &res));
    ck_assert_int_eq(res.method, TM_SEARCH_EXHAUSTIVE);
    ck_assert(fabs(res.damage - want) < 1e-9);
    ck_assert_int_le(res.bytes, budget);
    /* too many layers to enumerate: the DP with a coarse unit, still within budget */
    all4 = 0;
    long all8 = 0;
    for (int i = 0; i < 22; i++) {
        all4 += b4[i];
        all8 += b8[i];
    }
    budget = all4 + (all8 - all4) / 2;
    TM_CK(tm_search_solve(22, b8, b4, damage, budget, bits, &res));
    ck_assert_int_eq(res.method, TM_SEARCH_DP);
    ck_assert_int_gt(res.granularity, 1);
    ck_assert_int_le((budget - all4) / res.granularity, TM_SEARCH_MAX_UNITS);
    ck_assert_int_le(bytes_of(22, b8, b4, bits), budget);
    ck_assert_int_eq(res.bytes, bytes_of(22, b8, b4, bits));
}
END_TEST

START_TEST(budget_too_small_and_bad_input)
{
    const long b8[3] = {100, 60, 50}, b4[3] = {50, 30, 25};
    const double damage[3] = {1.0, 0.5, 0.25};
    int bits[3] = {0, 0, 0};
    tm_search_result res;
    ck_assert_int_eq(tm_search_solve(3, b8, b4, damage, 104, bits, &res), TM_ERR_ARG);
    ck_assert_msg(strstr(tm_last_error(), "budget 104 bytes") &&
                      strstr(tm_last_error(), "at least 105 bytes"),
                  "%s", tm_last_error());
    ck_assert_int_eq(tm_search_dp(3, b8, b4, damage, 0, 1, bits, &res), TM_ERR_ARG);
    ck_assert_int_eq(tm_search_exhaustive(3, b8, b4, damage, 0, bits, &res), TM_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(tm_last_error(), "at least 105 bytes"));
    TM_CK(tm_search_solve(3, b8, b4, damage, 105, bits, &res));

    const long bad8[2] = {10, 5}, bad4[2] = {5, 6};
    const double d2[2] = {1.0, 1.0}, nan2[2] = {1.0, NAN};
    ck_assert_int_eq(tm_search_solve(2, bad8, bad4, d2, 100, bits, &res), TM_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(tm_last_error(), "layer 1"));
    ck_assert_int_eq(tm_search_solve(2, b8, b4, nan2, 1000, bits, &res), TM_ERR_ARG);
    ck_assert_int_eq(tm_search_solve(0, b8, b4, d2, 1000, bits, &res), TM_ERR_ARG);
    ck_assert_int_eq(tm_search_dp(3, b8, b4, damage, 200, -1, bits, &res), TM_ERR_ARG);
}
END_TEST

/* ---- on a trained model, and the command --------------------------------- */

static char build_dir[4096];

static int have_build(void)
{
    const char *b = getenv("TM_BUILD_DIR");
    if (!b) {
        printf("skip: TM_BUILD_DIR not set (run through ctest)\n");
        return 0;
    }
    snprintf(build_dir, sizeof build_dir, "%s", b);
    return 1;
}

static int run_cmd(const char *cmd, char *out, size_t n)
{
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t got = fread(out, 1, n - 1, p);
    out[got] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 255;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "%s missing", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    ck_assert_int_eq((long)fread(b, 1, (size_t)n, f), n);
    b[n] = '\0';
    fclose(f);
    return b;
}

/* experiments/quickstart.cfg's network on a smaller synthetic set: 7
 * weight layers, 5,600 packed bytes at 4 bits and 10,336 at 8. */
static const char *tiny_cfg =
    "[experiment]\nname = tiny\nseed = 0\nthreads = 2\n"
    "[data]\nsource = synthetic\nclasses = 8\ntrain_samples = 1200\nval_samples = 160\n"
    "test_samples = 300\nnoise = 0.4\n"
    "[train]\nepochs = 4\nbatch_size = 32\noptimizer = adam\nlr = 0.002\n"
    "[image]\ninput = 1x16x16\n"
    "[image.conv1]\ntype = conv\nfilters = 8\nsize = 3\npadding = same\nbatch_norm = 1\n"
    "activation = relu\n"
    "[image.pool1]\ntype = maxpool\nsize = 2\n"
    "[image.sep2]\ntype = separable\nfilters = 16\nsize = 3\nactivation = relu\n"
    "[image.pool2]\ntype = maxpool\nsize = 2\n"
    "[image.flat]\ntype = flatten\n"
    "[image.fc]\ntype = dense\nunits = 16\nactivation = relu\n"
    "[audio]\ninput = 1x12x24\n"
    "[audio.conv1]\ntype = conv\nfilters = 8\nsize = 3\npadding = same\nbatch_norm = 1\n"
    "activation = relu\n"
    "[audio.pool1]\ntype = maxpool\nsize = 2\n"
    "[audio.sep2]\ntype = separable\nfilters = 16\nsize = 3\nactivation = relu\n"
    "[audio.pool2]\ntype = maxpool\nsize = 2\n"
    "[audio.flat]\ntype = flatten\n"
    "[audio.fc]\ntype = dense\nunits = 16\nactivation = relu\n"
    "[fusion]\ntype = concat\n"
    "[head.drop]\ntype = dropout\nrate = 0.2\n"
    "[head.out]\ntype = dense\nunits = classes\n";

/* The trained run of tiny_cfg in a fresh folder (a few seconds). */
static char run_dir[4200], work[4096];

static void train_tiny(void)
{
    char *d = tm_test_tmpdir("search");
    ck_assert_ptr_nonnull(d);
    snprintf(work, sizeof work, "%s", d);
    free(d);
    snprintf(run_dir, sizeof run_dir, "%s/run", work);
    char cfg[4200];
    snprintf(cfg, sizeof cfg, "%s/tiny.cfg", work);
    FILE *f = fopen(cfg, "w");
    ck_assert_ptr_nonnull(f);
    fputs(tiny_cfg, f);
    ck_assert_int_eq(fclose(f), 0);
    static char cmd[16384], out[1 << 16];
    snprintf(cmd, sizeof cmd, "'%s/tinym2net' train '%s' --out '%s' --quiet 2>&1", build_dir, cfg,
             run_dir);
    ck_assert_msg(run_cmd(cmd, out, sizeof out) == 0, "%s", out);
}

START_TEST(layer_costs_and_sensitivity)
{
    if (!have_build())
        return;
    train_tiny();
    tm_qrun r;
    TM_CK(tm_qrun_open(&r, run_dir, NULL, 0));
    TM_CK(tm_qrun_calibrate(&r, 8));
    tm_search_layer *l = NULL;
    int n = 0;
    TM_CK(tm_search_layers(r.q, &l, &n));
    ck_assert_int_eq(n, 7); /* conv1, sep2, fc per branch and head.out */
    ck_assert_str_eq(l[0].name, "image.conv1");
    ck_assert_str_eq(l[6].name, "head.out");
    /* the costs are the size report's rows at all8 and all4 */
    tm_size_totals t8, t4;
    TM_CK(tm_qat_preset(r.q, "all8"));
    TM_CK(tm_size_rows(r.q, NULL, 0, &t8));
    TM_CK(tm_qat_preset(r.q, "all4"));
    TM_CK(tm_size_rows(r.q, NULL, 0, &t4));
    long s8 = 0, s4 = 0;
    for (int i = 0; i < n; i++) {
        s8 += l[i].bytes8;
        s4 += l[i].bytes4;
        ck_assert_int_lt(l[i].bytes4, l[i].bytes8);
    }
    ck_assert_int_eq(s8, t8.packed_bytes);
    ck_assert_int_eq(s4, t4.packed_bytes);
    /* image.fc: 16 x 256 weights; 8-bit 4096 + 64 bias + 128 multipliers and shifts,
     * 4-bit 2048 + 192: the bytes the model file stores */
    ck_assert_int_eq(l[2].bytes8, 4288);
    ck_assert_int_eq(l[2].bytes4, 2240);

    /* sensitivity: bits restored, damage = loss4 - base, the base is all-8 */
    TM_CK(tm_qat_preset(r.q, "paper"));
    double base = 0, base_acc = 0;
    TM_CK(tm_search_sensitivity(r.q, &r.lo, &r.val, l, n, &base, &base_acc));
    ck_assert_int_eq(r.q->chain[0][0].bits, 8);
    ck_assert_int_eq(r.q->chain[0][2].bits, 4);
    double loss8 = 0, acc8 = 0, loss4 = 0, acc4 = 0;
    TM_CK(tm_qat_preset(r.q, "all8"));
    TM_CK(tm_search_eval(r.q, &r.lo, &r.val, &loss8, &acc8));
    ck_assert_double_eq(loss8, base);
    ck_assert_double_eq(acc8, base_acc);
    int any = 0;
    for (int i = 0; i < n; i++) {
        ck_assert_double_eq_tol(l[i].damage, l[i].loss4 - base, 1e-12);
        any |= l[i].damage != 0.0;
    }
    ck_assert_msg(any, "no layer changed the loss at 4 bits");
    /* one layer at 4 bits through tm_search_apply gives that layer's loss */
    int bits[7] = {8, 8, 4, 8, 8, 8, 8};
    tm_search_apply(r.q, l, n, bits);
    ck_assert_int_eq(r.q->chain[0][l[2].index].bits, 4);
    TM_CK(tm_search_eval(r.q, &r.lo, &r.val, &loss4, &acc4));
    ck_assert_double_eq(loss4, l[2].loss4);
    ck_assert_double_eq(acc4, l[2].acc4);
    ck_assert(base > 0.0 && base_acc > 0.5);
    free(l);
    tm_qrun_close(&r);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", work);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

START_TEST(search_command_end_to_end)
{
    if (!have_build())
        return;
    train_tiny();
    static char cmd[16384], out[1 << 16];
    char sd[4300], path[4400];
    snprintf(sd, sizeof sd, "%s/s", work);

    /* usage errors, and a budget below the all-4-bit size before any work */
    snprintf(cmd, sizeof cmd, "'%s/tinym2net' search --help 2>&1", build_dir);
    ck_assert_int_eq(run_cmd(cmd, out, sizeof out), 0);
    ck_assert_ptr_nonnull(strstr(out, "--budget-bytes"));
    snprintf(cmd, sizeof cmd, "'%s/tinym2net' search '%s' --out '%s' 2>&1", build_dir, run_dir,
             sd);
    ck_assert_int_eq(run_cmd(cmd, out, sizeof out), 2);
    ck_assert_ptr_nonnull(strstr(out, "--budget-bytes"));
    snprintf(cmd, sizeof cmd, "'%s/tinym2net' search '%s' --out '%s' --budget-bytes 12k 2>&1",
             build_dir, run_dir, sd);
    ck_assert_int_eq(run_cmd(cmd, out, sizeof out), 2);
    snprintf(cmd, sizeof cmd, "'%s/tinym2net' search '%s' --out '%s' --budget-bytes 1000 2>&1",
             build_dir, run_dir, sd);
    ck_assert_int_eq(run_cmd(cmd, out, sizeof out), 1);
    ck_assert_msg(strstr(out, "budget 1000 bytes") && strstr(out, "at least 6016 bytes"), "%s",
                  out);

    /* between the all-4 (6,016) and all-8 (10,752) sizes */
    snprintf(cmd, sizeof cmd,
             "'%s/tinym2net' search '%s' --out '%s' --budget-bytes 8000 --qat-epochs 1 "
             "--calib-batches 10 --pareto-points 5 2>&1",
             build_dir, run_dir, sd);
    ck_assert_msg(run_cmd(cmd, out, sizeof out) == 0, "%s", out);
    ck_assert_ptr_nonnull(strstr(out, "sensitivity on 160 validation samples"));
    ck_assert_ptr_nonnull(strstr(out, "searched"));
    ck_assert_ptr_nonnull(strstr(out, "all 4-bit"));

    snprintf(path, sizeof path, "%s/metrics.json", sd);
    json_t *doc = tm_test_json_file(path);
    const char *keys[] = {"test_accuracy", "float_test_accuracy", "float_weight_bytes",
                          "all4_test_accuracy"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        tm_test_json_num(doc, keys[i]);
    const json_t *bits = tm_test_json_get(doc, "bits");
    const char *first_key = json_object_iter_key(json_object_iter((json_t *)bits));
    ck_assert_msg(first_key && !strcmp(first_key, "image.conv1"), "bits start with %s", first_key);
    ck_assert_int_eq((long)tm_test_json_num(doc, "budget_bytes"), 8000);
    ck_assert_int_eq((long)tm_test_json_num(doc, "all4_weight_bytes"), 6016);
    ck_assert_int_eq((long)tm_test_json_num(doc, "all8_weight_bytes"), 10752);
    long wb = (long)tm_test_json_num(doc, "weight_bytes");
    ck_assert_int_le(wb, 8000);
    ck_assert_int_ge(wb, 6016);
    double acc = tm_test_json_num(doc, "test_accuracy");
    double a4 = tm_test_json_num(doc, "all4_test_accuracy");
    ck_assert_msg(acc > 0.4 && a4 > 0.4, "searched %g, all-4 %g", acc, a4);
    /* the chosen bits' bytes from the sensitivity table add up to weight_bytes */
    const json_t *layers = tm_test_json_get(tm_test_json_get(doc, "sensitivity"), "layers");
    long sum = 0;
    size_t li;
    json_t *l;
    json_array_foreach(layers, li, l) {
        tm_test_json_num(l, "damage");
        long b8 = (long)tm_test_json_num(l, "bytes8"), b4 = (long)tm_test_json_num(l, "bytes4");
        sum += (int)tm_test_json_num(l, "bits") == 8 ? b8 : b4;
    }
    ck_assert_int_eq(json_array_size(layers), 7);
    ck_assert_int_eq(sum, wb);
    json_decref(doc);

    /* pareto.csv: a header and 5 budgets from all-4 to all-8, each choice within it */
    snprintf(path, sizeof path, "%s/pareto.csv", sd);
    char *csv = slurp(path);
    const char *head = "budget_bytes,weight_bytes,predicted_damage,val_loss,val_accuracy,"
                       "test_accuracy,bits\n";
    ck_assert_msg(strncmp(csv, head, strlen(head)) == 0, "%s", csv);
    int rows = 0;
    long first = -1, last = -1, prev = -1;
    for (char *line = strchr(csv, '\n'); line && line[1]; line = strchr(line + 1, '\n')) {
        long budget = 0, bytes = 0;
        double dmg = 0, vl = 0, va = 0, ta = 0;
        char bits[64];
        ck_assert_int_eq(sscanf(line + 1, "%ld,%ld,%lf,%lf,%lf,%lf,%63s", &budget, &bytes, &dmg,
                                &vl, &va, &ta, bits),
                         7);
        ck_assert_int_le(bytes, budget);
        ck_assert_int_gt(budget, prev);
        ck_assert_int_eq((int)strlen(bits), 7);
        ck_assert(ta >= 0.0 && ta <= 1.0);
        if (first < 0)
            first = budget;
        last = prev = budget;
        rows++;
    }
    ck_assert_int_eq(rows, 5);
    ck_assert_int_eq(first, 6016);
    ck_assert_int_eq(last, 10752);
    free(csv);

    snprintf(path, sizeof path, "%s/pareto.gp", sd);
    free(slurp(path));
    int gnuplot = system("command -v gnuplot >/dev/null 2>&1") == 0;
    snprintf(path, sizeof path, "%s/pareto.png", sd);
    FILE *png = fopen(path, "rb");
    if (gnuplot) {
        ck_assert_msg(png != NULL, "gnuplot is installed but %s is missing", path);
        unsigned char sig[8] = {0};
        ck_assert_int_eq(fread(sig, 1, 8, png), 8);
        ck_assert_mem_eq(sig, "\x89PNG\r\n\x1a\n", 8);
    }
    if (png)
        fclose(png);

    /* qmodel.h5 rebuilds model.tm2n byte for byte (export checks it) */
    snprintf(cmd, sizeof cmd, "'%s/tinym2net' export '%s' -o '%s/e.tm2n' 2>&1", build_dir, sd,
             work);
    ck_assert_msg(run_cmd(cmd, out, sizeof out) == 0, "%s", out);

    /* without gnuplot on PATH: CSV and script, the PNG skipped, exit 0 */
    snprintf(cmd, sizeof cmd,
             "env PATH=/nonexistent '%s/tinym2net' search '%s' --out '%s/s2' --budget-bytes "
             "6400 --qat-epochs 0 --calib-batches 4 --pareto-points 2 --quiet 2>&1",
             build_dir, run_dir, work);
    ck_assert_msg(run_cmd(cmd, out, sizeof out) == 0, "%s", out);
    ck_assert_ptr_nonnull(strstr(out, "pareto.png skipped"));
    snprintf(path, sizeof path, "%s/s2/pareto.png", work);
    ck_assert_ptr_null(fopen(path, "rb"));
    snprintf(path, sizeof path, "%s/s2/pareto.gp", work);
    free(slurp(path));
    /* again without gnuplot, into the first folder (--force): its old picture goes
     * with the old data, it is not kept beside the new pareto.csv */
    if (gnuplot) {
        snprintf(cmd, sizeof cmd,
                 "env PATH=/nonexistent '%s/tinym2net' search '%s' --out '%s' --budget-bytes "
                 "6400 --qat-epochs 0 --calib-batches 4 --pareto-points 2 --quiet --force 2>&1",
                 build_dir, run_dir, sd);
        ck_assert_msg(run_cmd(cmd, out, sizeof out) == 0, "%s", out);
        snprintf(path, sizeof path, "%s/pareto.png", sd);
        png = fopen(path, "rb");
        ck_assert_msg(png == NULL, "%s of the earlier search was kept", path);
    }

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", work);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("search");
    TCase *c = tcase_create("solver");
    tcase_add_test(c, dp_equals_brute_force_on_random_instances);
    tcase_add_test(c, hand_worked_case);
    tcase_add_test(c, large_budgets_switch_method);
    tcase_add_test(c, budget_too_small_and_bad_input);
    suite_add_tcase(s, c);
    c = tcase_create("command");
    tcase_add_test(c, layer_costs_and_sensitivity);
    tcase_add_test(c, search_command_end_to_end);
    suite_add_tcase(s, c);
    return s;
}

int main(void)
{
    return tm_test_run(suite());
}
