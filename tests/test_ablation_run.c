/* `train --ablations` leaves each branch's run as a first-class run folder:
 * its stored experiment names the branch it keeps ([experiment] branch), so
 * eval, quantize, search, export and train --resume rebuild the
 * single-branch model from it. Synthetic quickstart data, two epochs. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tm_rt_model.h"
#include "tm_test_util.h"

static char exe[4096];
static char out[1 << 20];

#define run(...) tm_test_run_exe(exe, out, sizeof out, __VA_ARGS__)

/* eval's JSON without "run" (which names the folder). */
static json_t *eval_metrics(const char *run_dir)
{
    ck_assert_msg(run("eval '%s'", run_dir) == 0, "eval %s: %s", run_dir, out);
    json_t *doc = tm_test_json(out);
    ck_assert_int_eq(json_object_del(doc, "run"), 0);
    return doc;
}

/* dir/metrics.json */
static json_t *metrics_of(const char *dir)
{
    char path[8192];
    snprintf(path, sizeof path, "%s/metrics.json", dir);
    return tm_test_json_file(path);
}

START_TEST(ablation_folders_are_runs)
{
    if (!tm_test_build_exe(exe, sizeof exe, "tinym2net"))
        return;
    const char *cfg_dir = tm_test_source_dir();
    char *dir = tm_test_tmpdir("ablrun");
    ck_assert_ptr_nonnull(dir);
    char cfg[4200], r[4200], img[4300], aud[4300];
    snprintf(cfg, sizeof cfg, "%s/experiments/quickstart.cfg", cfg_dir);
    snprintf(r, sizeof r, "%s/r", dir);
    snprintf(img, sizeof img, "%s/ablation-image", r);
    snprintf(aud, sizeof aud, "%s/ablation-audio", r);
    const char *quick = "--quiet --threads 1 --set train.epochs=2";

    ck_assert_msg(run("train '%s' --ablations --out '%s' %s", cfg, r, quick) == 0, "%s", out);
    json_t *fused = metrics_of(r);
    const json_t *abl = tm_test_json_get(fused, "ablations");
    double acc_image = tm_test_json_num(abl, "image"), acc_audio = tm_test_json_num(abl, "audio");

    /* each folder's model.h5 rebuilds its model: eval gives the recorded accuracy */
    const char *dirs[] = {img, aud};
    const double acc[] = {acc_image, acc_audio};
    const char *variant[] = {"image only", "audio only"};
    for (int i = 0; i < 2; i++) {
        json_t *m = metrics_of(dirs[i]);
        ck_assert_str_eq(json_string_value(tm_test_json_get(m, "variant")), variant[i]);
        ck_assert_double_eq_tol(tm_test_json_num(m, "test_accuracy"), acc[i], 1e-9);
        json_decref(m);
        json_t *ev = eval_metrics(dirs[i]);
        ck_assert_double_eq_tol(tm_test_json_num(ev, "test_accuracy"), acc[i], 1e-9);
        json_decref(ev);
    }

    /* quantize and export the image branch: a device model with one input */
    ck_assert_msg(run("quantize '%s' --out '%s/q' --preset paper --qat-epochs 0 --quiet", img,
                      dir) == 0,
                  "%s", out);
    ck_assert_msg(run("export '%s/q' -o '%s/image.tm2n' --quiet", dir, dir) == 0, "%s", out);
    char path[8192];
    snprintf(path, sizeof path, "%s/image.tm2n", dir);
    size_t n = 0;
    char *bytes = tm_test_slurp(path, &n);
    ck_assert_ptr_nonnull(bytes);
    tm_rt_model dm;
    ck_assert_int_eq(tm_rt_model_open(&dm, bytes, n), TM_RT_OK);
    ck_assert_uint_eq(dm.n_inputs, 1);
    free(bytes);

    /* the precision search on the audio branch */
    ck_assert_msg(run("search '%s' --budget-bytes 1000000 --out '%s/s' --qat-epochs 0 "
                      "--pareto-points 2 --quiet",
                      aud, dir) == 0,
                  "%s", out);

    /* train --resume on the ablation folder itself continues its stored experiment */
    ck_assert_msg(run("train '%s' --resume --out '%s' %s", cfg, img, quick) == 0, "%s", out);
    /* with the fused file and the same settings: nothing differs, no warning */
    ck_assert_msg(!strstr(out, "differs from the experiment stored"), "%s", out);
    json_t *m = metrics_of(img);
    ck_assert_double_eq_tol(tm_test_json_num(m, "test_accuracy"), acc_image, 1e-9);
    ck_assert_str_eq(json_string_value(tm_test_json_get(m, "variant")), "image only");
    json_decref(m);

    /* the branch key alone, killed after epoch 1 and resumed, gives the
     * ablation's model exactly (the same probabilities on the test split) */
    char sa[4300];
    snprintf(sa, sizeof sa, "%s/audio-alone", dir);
    ck_assert_msg(run("train '%s' --set experiment.branch=audio --stop-after 1 --out '%s' %s",
                      cfg, sa, quick) == 0,
                  "%s", out);
    ck_assert_msg(run("train '%s' --set experiment.branch=audio --resume --out '%s' %s", cfg, sa,
                      quick) == 0,
                  "%s", out);
    json_t *alone = eval_metrics(sa), *ablation = eval_metrics(aud);
    ck_assert_msg(json_equal(alone, ablation), "eval of %s and of %s differ", sa, aud);
    json_decref(alone);
    json_decref(ablation);

    /* a branch the experiment does not have is named */
    ck_assert_int_eq(run("train '%s' --set experiment.branch=video --out '%s/v' %s", cfg, dir,
                         quick),
                     1);
    ck_assert_msg(strstr(out, "no branch [video]"), "%s", out);
    json_decref(fused);
    free(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ablation_run");
    TCase *tc = tcase_create("ablation_run");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, ablation_folders_are_runs);
    suite_add_tcase(s, tc);
    return tm_test_run(s);
}
