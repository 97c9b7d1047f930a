/* tinym2net-run takes the audio fit rule, each input's manifest column and
 * the label column from the model file, so a model trained with fit = center
 * and a column and label column of other names runs with no flags and gives
 * the logits of the training side's integer simulation (q/model.tm2n on the
 * trainer's features). Also --skip-bad-rows and the unknown-label message. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tm_experiment.h"
#include "tm_features.h"
#include "tm_rt_model.h"
#include "tm_test_util.h"

enum { ROWS = 8 };
static char bd_exe[4096], run_exe[4096];
static char out[1 << 18];

static void write_manifest(const char *path, const char *dir, int rows, const char *extra)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "wav,diagnosis\n");
    for (int i = 0; i < rows; i++)
        fprintf(f, "%s/a%d.wav,%s\n", dir, i, i % 2 ? "high" : "low");
    fputs(extra, f);
    ck_assert_int_eq(fclose(f), 0);
}

START_TEST(fit_columns_and_labels_come_from_the_model)
{
    if (!tm_test_build_exe(bd_exe, sizeof bd_exe, "tinym2net") ||
        !tm_test_build_exe(run_exe, sizeof run_exe, "tinym2net-run"))
        return;
    char *dir = tm_test_tmpdir("runinputs");
    ck_assert_ptr_nonnull(dir);
    char path[4300], cmd[32768], cfg[4300], man[4300], logits[4300];
    /* Lengths far from the 3200 samples, so start and center cut differently. */
    for (int i = 0; i < ROWS; i++) {
        short pcm[8000];
        int n = 1200 + 800 * i;
        for (int j = 0; j < n; j++)
            pcm[j] = (short)(9000.0 * sin((i % 2 ? 0.21 : 0.04) * j * (1.0 + 0.6 * j / n)));
        snprintf(path, sizeof path, "%s/a%d.wav", dir, i);
        tm_test_write_wav(path, pcm, n, 8000);
    }
    snprintf(man, sizeof man, "%s/train.csv", dir);
    write_manifest(man, dir, ROWS, "");
    snprintf(cfg, sizeof cfg, "%s/exp.cfg", dir);
    FILE *f = fopen(cfg, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f,
            "[experiment]\nname = fit\nseed = 0\nthreads = 1\n\n"
            "[data]\nsource = manifest\nroot = %s\ntrain = train.csv\ntest = train.csv\n"
            "val = train.csv\nlabel_column = diagnosis\n\n"
            "[train]\nepochs = 1\nbatch_size = 4\noptimizer = adam\nlr = 0.01\n\n"
            "[voice]\ninput = 1x12x24\nfeature = mfcc\ncolumn = wav\nsample_rate = 8000\n"
            "duration = 0.4\nfit = center\nwindow = 256\nhop = 128\nmels = 24\n"
            "coefficients = 12\nfmax = 4000\n\n"
            "[voice.c1]\ntype = conv\nfilters = 3\nsize = 3\npadding = same\n"
            "activation = relu\n\n[voice.flat]\ntype = flatten\n\n"
            "[head.out]\ntype = dense\nunits = classes\n",
            dir);
    ck_assert_int_eq(fclose(f), 0);
    snprintf(cmd, sizeof cmd,
             "'%s' train '%s' --out '%s/r' --quiet 2>&1 && '%s' quantize '%s/r' --out '%s/q' "
             "--qat-epochs 0 --calib-batches 2 --quiet 2>&1 && '%s' export '%s/q' -o "
             "'%s/m.tm2n' --quiet 2>&1",
             bd_exe, cfg, dir, bd_exe, dir, dir, bd_exe, dir, dir);
    ck_assert_msg(tm_test_run_cmd(cmd, out, sizeof out) == 0, "%s", out);

    /* The exported record carries what training used. */
    size_t n = 0, qn = 0;
    snprintf(path, sizeof path, "%s/m.tm2n", dir);
    char *bytes = tm_test_slurp(path, &n);
    tm_rt_model m;
    ck_assert_int_eq(tm_rt_model_open(&m, bytes, n), TM_RT_OK);
    ck_assert_int_eq(m.n_inputs, 1);
    ck_assert_int_eq(m.inputs[0].kind, TM_RT_INPUT_AUDIO);
    ck_assert_int_eq(m.inputs[0].fit, TM_RT_FIT_CENTER);
    ck_assert_str_eq(m.inputs[0].name, "voice");
    ck_assert_str_eq(m.inputs[0].column, "wav");
    ck_assert_str_eq(m.label_column, "diagnosis");

    /* The training side: its features of each file into the simulated model. */
    tm_experiment e;
    TM_CK(tm_experiment_load(&e, cfg, NULL, 0));
    ck_assert_int_eq(e.features[0].fit, TM_AUDIO_FIT_CENTER);
    snprintf(path, sizeof path, "%s/q/model.tm2n", dir);
    char *qbytes = tm_test_slurp(path, &qn);
    tm_rt_model qm;
    ck_assert_int_eq(tm_rt_model_open(&qm, qbytes, qn), TM_RT_OK);
    ck_assert_int_eq(qm.inputs[0].kind, TM_RT_INPUT_FEATURES);
    void *mem = calloc(1, tm_rt_model_memory_bytes(&qm));
    ck_assert_ptr_nonnull(mem);
    tm_featurizer z;
    TM_CK(tm_featurizer_init(&z, &e.features[0]));
    float raw[3200], feat[12 * 24];
    ck_assert_uint_eq(tm_feature_raw_dim(&e.features[0]), 3200);
    int k = (int)qm.n_classes;
    int8_t want[ROWS][TM_RT_MAX_CLASSES];
    for (int i = 0; i < ROWS; i++) {
        snprintf(path, sizeof path, "%s/a%d.wav", dir, i);
        TM_CK(tm_feature_decode(&e.features[0], path, raw));
        TM_CK(tm_featurize(&z, raw, feat, NULL));
        ck_assert_int_eq(tm_rt_model_set_features(&qm, mem, 0, feat), TM_RT_OK);
        ck_assert_int_eq(tm_rt_model_invoke(&qm, mem), TM_RT_OK);
        memcpy(want[i], tm_rt_model_logits(&qm, mem), (size_t)k);
    }
    tm_featurizer_free(&z);
    free(mem);

    /* No flags: tinym2net-run gives those logits on every row. */
    snprintf(logits, sizeof logits, "%s/l.csv", dir);
    snprintf(cmd, sizeof cmd, "'%s' '%s/m.tm2n' --manifest '%s' --logits '%s' --quiet 2>&1",
             run_exe, dir, man, logits);
    ck_assert_msg(tm_test_run_cmd(cmd, out, sizeof out) == 0, "%s", out);
    ck_assert_msg(strstr(out, "accuracy ") && !strstr(out, "accuracy n/a"), "%s", out);
    tm_test_expect_logits_csv(logits, &want[0][0], ROWS, k, TM_RT_MAX_CLASSES);

    /* --confusion: the matrix's data (one "true predicted count share" line per
     * cell, counts adding up to the rows) and, with gnuplot, its picture */
    snprintf(cmd, sizeof cmd, "'%s' '%s/m.tm2n' --manifest '%s' --confusion '%s/c.png' --quiet",
             run_exe, dir, man, dir);
    ck_assert_msg(tm_test_run_cmd(cmd, out, sizeof out) == 0, "%s", out);
    {
        char p[4200];
        snprintf(p, sizeof p, "%s/c.dat", dir);
        FILE *f = fopen(p, "r");
        ck_assert_msg(f != NULL, "no %s", p);
        int t, pr, cells = 0;
        long cnt, total = 0;
        double share;
        while (fscanf(f, "%d %d %ld %lf", &t, &pr, &cnt, &share) == 4) {
            cells++;
            total += cnt;
        }
        fclose(f);
        ck_assert_int_eq(cells, k * k);
        ck_assert_int_eq(total, ROWS);
        snprintf(p, sizeof p, "%s/c.png", dir);
        f = fopen(p, "rb");
        ck_assert_msg(f != NULL || system("command -v gnuplot >/dev/null 2>&1") != 0, "no %s", p);
        if (f)
            fclose(f);
    }

    /* --fit that disagrees with the model is an error, not other logits. */
    snprintf(cmd, sizeof cmd, "'%s' '%s/m.tm2n' --manifest '%s' --fit start 2>&1", run_exe, dir,
             man);
    ck_assert_int_eq(tm_test_run_cmd(cmd, out, sizeof out), 1);
    ck_assert_msg(strstr(out, "--fit start, but input 'voice' was trained with fit = center"),
                  "%s", out);
    snprintf(cmd, sizeof cmd, "'%s' '%s/m.tm2n' --manifest '%s' --fit center --quiet 2>&1",
             run_exe, dir, man);
    ck_assert_msg(tm_test_run_cmd(cmd, out, sizeof out) == 0, "%s", out);

    /* An unknown label: one location and the known classes. */
    snprintf(path, sizeof path, "%s/bad.csv", dir);
    char extra[8192];
    snprintf(extra, sizeof extra, "%s/a0.wav,medium\n%s/missing.wav,low\n", dir, dir);
    write_manifest(path, dir, 2, extra);
    snprintf(cmd, sizeof cmd, "'%s' '%s/m.tm2n' --manifest '%s' 2>&1", run_exe, dir, path);
    ck_assert_int_eq(tm_test_run_cmd(cmd, out, sizeof out), 1);
    ck_assert_msg(strstr(out, "bad.csv:4: label 'medium' is not one of the model's classes "
                              "(known classes: high, low)"),
                  "%s", out);
    ck_assert_msg(strstr(strstr(out, "bad.csv:4") + 1, "bad.csv:") == NULL,
                  "location repeated: %s", out);
    /* --skip-bad-rows lists both bad rows and counts them */
    snprintf(cmd, sizeof cmd, "'%s' '%s/m.tm2n' --manifest '%s' --skip-bad-rows --quiet 2>&1",
             run_exe, dir, path);
    ck_assert_msg(tm_test_run_cmd(cmd, out, sizeof out) == 0, "%s", out);
    ck_assert_msg(strstr(out, "skipped ") && strstr(out, "bad.csv:4: label 'medium'"), "%s", out);
    ck_assert_msg(strstr(out, "bad.csv:5: input 'voice'") && strstr(out, "missing.wav"), "%s",
                  out);
    ck_assert_msg(strstr(out, "skipped rows 2 of 4"), "%s", out);
    ck_assert_msg(strstr(out, "(2/2)") || strstr(out, "(1/2)") || strstr(out, "(0/2)"), "%s",
                  out);

    tm_experiment_free(&e);
    free(qbytes);
    free(bytes);
    free(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("run_model_inputs");
    TCase *tc = tcase_create("cli");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, fit_columns_and_labels_come_from_the_model);
    suite_add_tcase(s, tc);
    return tm_test_run(s);
}
