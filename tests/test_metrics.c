/* Classification metrics against hand-computed confusion matrices, F1 and AUC. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tm_json.h"
#include "tm_metrics.h"
#include "tm_run_folder.h"
#include "tm_test_util.h"

#define TOL 1e-9

/* Probability rows: 0.8 on the predicted class, the rest shared equally. */
static void one_hot_scores(float *s, const int *pred, int n, int k)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j < k; j++)
            s[i * k + j] = j == pred[i] ? 0.8f : 0.2f / (k - 1);
}

/* labels 0 0 0 1 1 1 2 2 2 2, predictions 0 0 1 1 1 2 2 2 0 2:
 *   true 0: [2 1 0]   true 1: [0 2 1]   true 2: [1 0 3]
 *   precision = recall = F1: 2/3, 2/3, 3/4; accuracy 7/10. */
static const int lab3[10] = {0, 0, 0, 1, 1, 1, 2, 2, 2, 2};
static const int pred3[10] = {0, 0, 1, 1, 1, 2, 2, 2, 0, 2};

START_TEST(three_class_confusion_and_f1)
{
    float s[30];
    one_hot_scores(s, pred3, 10, 3);
    tm_metrics m;
    TM_CK(tm_metrics_compute(&m, lab3, s, 10, 3));
    const long want[9] = {2, 1, 0, 0, 2, 1, 1, 0, 3};
    for (int i = 0; i < 9; i++)
        ck_assert_int_eq(m.confusion[i], want[i]);
    ck_assert_double_eq_tol(m.accuracy, 0.7, TOL);
    const double pr[3] = {2.0 / 3, 2.0 / 3, 0.75};
    for (int c = 0; c < 3; c++) {
        ck_assert_double_eq_tol(m.precision[c], pr[c], TOL);
        ck_assert_double_eq_tol(m.recall[c], pr[c], TOL);
        ck_assert_double_eq_tol(m.f1[c], pr[c], TOL);
    }
    ck_assert_double_eq_tol(m.macro_f1, (2.0 / 3 + 2.0 / 3 + 0.75) / 3, TOL);
    /* 7 samples with p(label) = 0.8, 3 with 0.1. */
    ck_assert_double_eq_tol(m.loss, -(7 * log(0.8f) + 3 * log(0.1f)) / 10, 1e-6);
    ck_assert(isnan(m.roc_auc));
    tm_metrics_free(&m);
    ck_assert_ptr_null(m.confusion);
}
END_TEST

START_TEST(never_predicted_class_has_zero_precision)
{
    /* labels 0 1 2 2, predictions 0 1 1 0: class 2 is never predicted.
     * P = 1/2, 1/2, 0; R = 1, 1, 0; F1 = 2/3, 2/3, 0. */
    const int lab[4] = {0, 1, 2, 2}, pred[4] = {0, 1, 1, 0};
    float s[12];
    one_hot_scores(s, pred, 4, 3);
    tm_metrics m;
    TM_CK(tm_metrics_compute(&m, lab, s, 4, 3));
    ck_assert_double_eq_tol(m.accuracy, 0.5, TOL);
    ck_assert_double_eq_tol(m.precision[0], 0.5, TOL);
    ck_assert_double_eq_tol(m.recall[0], 1.0, TOL);
    ck_assert_double_eq_tol(m.f1[1], 2.0 / 3, TOL);
    ck_assert_double_eq(m.precision[2], 0.0);
    ck_assert_double_eq(m.recall[2], 0.0);
    ck_assert_double_eq(m.f1[2], 0.0);
    ck_assert_double_eq_tol(m.macro_f1, 4.0 / 9, TOL);
    tm_metrics_free(&m);
}
END_TEST

START_TEST(auc_counts_ties_half)
{
    /* Positive p1: 0.9 0.6 0.4; negative p1: 0.6 0.3 0.1 0.4.
     * Pairs won: 4 + (3 + 0.5) + (2 + 0.5) = 10 of 12. */
    const int lab[7] = {1, 1, 1, 0, 0, 0, 0};
    const float p1[7] = {0.9f, 0.6f, 0.4f, 0.6f, 0.3f, 0.1f, 0.4f};
    float s[14];
    for (int i = 0; i < 7; i++) {
        s[2 * i] = 1.0f - p1[i];
        s[2 * i + 1] = p1[i];
    }
    tm_metrics m;
    TM_CK(tm_metrics_compute(&m, lab, s, 7, 2));
    ck_assert_double_eq_tol(m.roc_auc, 10.0 / 12, TOL);
    /* Predictions (arg-max): 1 1 0 | 1 0 0 0. */
    ck_assert_int_eq(m.confusion[0], 3);
    ck_assert_int_eq(m.confusion[1], 1);
    ck_assert_int_eq(m.confusion[2], 1);
    ck_assert_int_eq(m.confusion[3], 2);
    tm_metrics_free(&m);

    /* All scores equal: every pair is a tie. */
    for (int i = 0; i < 14; i++)
        s[i] = 0.5f;
    TM_CK(tm_metrics_compute(&m, lab, s, 7, 2));
    ck_assert_double_eq_tol(m.roc_auc, 0.5, TOL);
    tm_metrics_free(&m);

    /* One class absent: no AUC. */
    const int all_pos[3] = {1, 1, 1};
    TM_CK(tm_metrics_compute(&m, all_pos, s, 3, 2));
    ck_assert(isnan(m.roc_auc));
    tm_metrics_free(&m);
}
END_TEST

START_TEST(logits_are_ranked_by_softmax)
{
    /* The positive has the larger class-1 logit but the smaller margin z1 - z0,
     * so its softmax p1 is lower: AUC 0, not 1. */
    const int lab[2] = {1, 0};
    const float z[4] = {5.0f, 5.5f, -3.0f, -1.0f};
    tm_metrics m;
    TM_CK(tm_metrics_compute(&m, lab, z, 2, 2));
    ck_assert_double_eq_tol(m.roc_auc, 0.0, TOL);
    /* Cross-entropy: log(1 + e^-0.5) for sample 0, log(1 + e^2) for sample 1. */
    double want = (log(1.0 + exp(-0.5)) + log(1.0 + exp(2.0))) / 2;
    ck_assert_double_eq_tol(m.loss, want, 1e-9);
    ck_assert_double_eq_tol(m.accuracy, 0.5, TOL); /* both predicted as class 1 */
    tm_metrics_free(&m);
}
END_TEST

START_TEST(bad_inputs_are_named)
{
    tm_metrics m;
    const int lab[2] = {0, 3};
    float s[4] = {0.5f, 0.5f, 0.5f, 0.5f};
    ck_assert_int_eq(tm_metrics_compute(&m, lab, s, 2, 2), TM_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(tm_last_error(), "sample 1"));
    ck_assert_ptr_null(m.confusion);
    const int ok[2] = {0, 1};
    s[2] = NAN;
    ck_assert_int_eq(tm_metrics_compute(&m, ok, s, 2, 2), TM_ERR_NUMERIC);
    ck_assert_ptr_nonnull(strstr(tm_last_error(), "sample 1"));
    ck_assert_int_eq(tm_metrics_compute(&m, ok, s, 0, 2), TM_ERR_ARG);
}
END_TEST

static int have_python(void) { return system("command -v python3 >/dev/null 2>&1") == 0; }

START_TEST(json_is_valid_and_mergeable)
{
    char *dir = tm_test_tmpdir("metrics");
    ck_assert_ptr_nonnull(dir);
    char path[4200], script[4200], cmd[9000];
    snprintf(path, sizeof path, "%s/m.json", dir);
    snprintf(script, sizeof script, "%s/check.py", dir);

    float s3[30];
    one_hot_scores(s3, pred3, 10, 3);
    tm_metrics a, b;
    TM_CK(tm_metrics_compute(&a, lab3, s3, 10, 3));
    const int lab2[3] = {0, 1, 1};
    const float s2[6] = {0.7f, 0.3f, 0.4f, 0.6f, 0.2f, 0.8f};
    TM_CK(tm_metrics_compute(&b, lab2, s2, 3, 2));
    const char names[3][64] = {"zero", "one \"quoted\" \\ back", "two\ttab"};

    json_t *doc = json_object();
    ck_assert_int_eq(tm_json_add_metrics(doc, &a, names, "test_"), 0);
    ck_assert_int_eq(tm_json_add_metrics(doc, &b, NULL, "val_"), 0);
    TM_CK(tm_json_commit(doc, 0, path));
    FILE *f;

    /* NaN must come out as null, never as a NaN literal. */
    f = fopen(path, "r");
    char buf[8192];
    size_t got = fread(buf, 1, sizeof buf - 1, f);
    buf[got] = '\0';
    fclose(f);
    /* jansson refuses NaN literals; an integral value is written as an integer */
    json_t *back = tm_test_json(buf);
    ck_assert(json_is_null(tm_test_json_get(back, "test_roc_auc")));
    const json_t *auc = tm_test_json_get(back, "val_roc_auc");
    ck_assert(json_is_integer(auc) && json_integer_value(auc) == 1);
    json_decref(back);

    if (!have_python()) {
        fprintf(stderr, "python3 not on PATH: JSON parse check skipped\n");
    } else {
        f = fopen(script, "w");
        ck_assert_ptr_nonnull(f);
        fputs("import json, math, sys\n"
              "d = json.load(open(sys.argv[1]), parse_constant=lambda c: sys.exit('constant ' + c))\n"
              "assert d['test_n'] == 10, d\n"
              "assert abs(d['test_accuracy'] - 0.7) < 1e-9\n"
              "assert d['test_roc_auc'] is None\n"
              "assert d['test_confusion'] == [[2, 1, 0], [0, 2, 1], [1, 0, 3]]\n"
              "pc = d['test_per_class']\n"
              "assert list(pc) == ['zero', 'one \"quoted\" \\\\ back', 'two\\ttab'], list(pc)\n"
              "assert abs(pc['two\\ttab']['f1'] - 0.75) < 1e-9 and pc['zero']['support'] == 3\n"
              "assert d['val_roc_auc'] == 1 and d['val_per_class']['1']['recall'] == 1\n"
              "assert d['val_confusion'] == [[1, 0], [0, 2]]\n"
              "assert math.isfinite(d['val_loss'])\n",
              f);
        fclose(f);
        snprintf(cmd, sizeof cmd, "python3 '%s' '%s'", script, path);
        int rc = system(cmd);
        ck_assert_msg(rc == 0, "python3 rejected %s:\n%s", path, buf);
    }
    tm_metrics_free(&a);
    tm_metrics_free(&b);
    remove(path);
    remove(script);
    remove(dir);
    free(dir);
}
END_TEST

/* The one metrics.json writer puts the common members between the
 * command's own, in the order every run folder has them. */
START_TEST(run_metrics_member_order)
{
    char *dir = tm_test_tmpdir("runmetrics");
    ck_assert_ptr_nonnull(dir);
    float s3[30];
    one_hot_scores(s3, pred3, 10, 3);
    tm_metrics a;
    TM_CK(tm_metrics_compute(&a, lab3, s3, 10, 3));
    tm_splits data;
    memset(&data, 0, sizeof data);
    char names[3][TM_NAME_LEN] = {"x", "y \"z\"", "w"};
    data.test.class_names = names;
    data.rows_skipped[2] = 5;
    json_t *h = json_object(), *m = json_object(), *t = json_object();
    int bad = tm_json_set_int(h, "own_first", 1) | tm_json_set_int(m, "own_middle", 2) |
              tm_json_set_int(t, "own_last", 3);
    tm_run_metrics mt = {.experiment = "e\\1", .variant = "v", .head = h, .mid = m, .tail = t,
                         .data = &data, .test = &a};
    TM_CK(tm_run_write_metrics(dir, &mt, bad));
    char path[4200];
    snprintf(path, sizeof path, "%s/metrics.json", dir);
    json_t *doc = tm_test_json_file(path);
    static const char *const want[] = {"experiment", "variant",   "own_first",
                                       "rows_skipped", "own_middle", "test_n",
                                       "test_accuracy", "test_macro_f1", "test_loss",
                                       "test_roc_auc", "test_per_class", "test_confusion",
                                       "own_last"};
    size_t at = 0;
    const char *key;
    json_t *v;
    json_object_foreach(doc, key, v) {
        ck_assert_msg(at < sizeof want / sizeof *want, "extra member %s", key);
        ck_assert_str_eq(key, want[at]);
        at++;
    }
    ck_assert_uint_eq(at, sizeof want / sizeof *want);
    ck_assert_str_eq(json_string_value(tm_test_json_get(doc, "experiment")), "e\\1");
    ck_assert_int_eq((int)tm_test_json_num(tm_test_json_get(doc, "rows_skipped"), "test"), 5);
    ck_assert(json_object_get(tm_test_json_get(doc, "test_per_class"), "y \"z\""));
    json_decref(doc);
    tm_metrics_free(&a);
    free(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("metrics");
    tcase_add_test(tc, three_class_confusion_and_f1);
    tcase_add_test(tc, never_predicted_class_has_zero_precision);
    tcase_add_test(tc, auc_counts_ties_half);
    tcase_add_test(tc, logits_are_ranked_by_softmax);
    tcase_add_test(tc, bad_inputs_are_named);
    tcase_add_test(tc, json_is_valid_and_mergeable);
    tcase_add_test(tc, run_metrics_member_order);
    suite_add_tcase(s, tc);
    return tm_test_run(s);
}
