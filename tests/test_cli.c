/* The command-line program as a user runs it: exit codes, --help, error
 * messages, and the quickstart's promise that fusion beats each branch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "tm_test_util.h"

static char exe[4096];

/* Runs a shell command, captures stdout+stderr, returns the exit status. */
static int run(const char *args, char *out, size_t n)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "'%s' %s 2>&1", exe, args);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t got = fread(out, 1, n - 1, p);
    out[got] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 255;
}

static int setup(void)
{
    return tm_test_build_exe(exe, sizeof exe, "tinym2net");
}

START_TEST(help_and_usage_errors)
{
    if (!setup())
        return;
    static char out[1 << 16];
    ck_assert_int_eq(run("--help", out, sizeof out), 0);
    ck_assert_ptr_nonnull(strstr(out, "train"));
    ck_assert_int_eq(run("train --help", out, sizeof out), 0);
    ck_assert_ptr_nonnull(strstr(out, "--ablations"));
    ck_assert_int_eq(run("eval --help", out, sizeof out), 0);
    ck_assert_int_ne(run("frobnicate", out, sizeof out), 0);
    ck_assert_ptr_nonnull(strstr(out, "unknown command 'frobnicate'"));
    ck_assert_int_ne(run("train x.cfg --bogus", out, sizeof out), 0);
    ck_assert_ptr_nonnull(strstr(out, "unknown option '--bogus'"));
    ck_assert_int_eq(run("train /nonexistent.cfg", out, sizeof out), 1);
    ck_assert_ptr_nonnull(strstr(out, "/nonexistent.cfg"));
    ck_assert_int_eq(run("eval /nonexistent-run", out, sizeof out), 1);
    ck_assert_ptr_nonnull(strstr(out, "/nonexistent-run/model.h5"));
}
END_TEST

START_TEST(bad_set_is_an_error_before_training)
{
    if (!setup())
        return;
    static char out[1 << 16];
    char args[8192];
    char *dir = tm_test_tmpdir("cli");
    snprintf(args, sizeof args, "train '%s/experiments/quickstart.cfg' --out '%s/r' --set "
                                "train.learning_rate=1",
             tm_test_source_dir(), dir);
    ck_assert_int_eq(run(args, out, sizeof out), 1);
    ck_assert_ptr_nonnull(strstr(out, "unknown key 'learning_rate'"));
    free(dir);
}
END_TEST

START_TEST(quickstart_fusion_beats_each_branch)
{
    if (!setup())
        return;
    static char out[1 << 20];
    char args[8192], path[8192];
    char *dir = tm_test_tmpdir("quick");
    snprintf(args, sizeof args, "train '%s/experiments/quickstart.cfg' --ablations --out '%s/r'",
             tm_test_source_dir(), dir);
    ck_assert_msg(run(args, out, sizeof out) == 0, "%s", out);
    snprintf(path, sizeof path, "%s/r/metrics.json", dir);
    json_t *doc = tm_test_json_file(path);
    double fused = tm_test_json_num(doc, "test_accuracy");
    const json_t *abl = tm_test_json_get(doc, "ablations");
    double image = tm_test_json_num(abl, "image"), audio = tm_test_json_num(abl, "audio");
    json_decref(doc);
    ck_assert_msg(fused > image + 0.2 && fused > audio + 0.2, "fused %.3f image %.3f audio %.3f",
                  fused, image, audio);
    /* eval reproduces the recorded test accuracy from model.h5 */
    snprintf(args, sizeof args, "eval '%s/r'", dir);
    ck_assert_msg(run(args, out, sizeof out) == 0, "%s", out);
    doc = tm_test_json(out);
    ck_assert_double_eq_tol(tm_test_json_num(doc, "test_accuracy"), fused, 1e-9);
    json_decref(doc);
    /* eval of a quantised run: its model file on the integer runtime gives the
     * accuracy quantize recorded; --confusion draws the matrix */
    snprintf(args, sizeof args,
             "quantize '%s/r' --out '%s/q' --qat-epochs 0 --calib-batches 4 --quiet", dir, dir);
    ck_assert_msg(run(args, out, sizeof out) == 0, "%s", out);
    snprintf(path, sizeof path, "%s/q/metrics.json", dir);
    doc = tm_test_json_file(path);
    double qacc = tm_test_json_num(doc, "test_accuracy");
    json_decref(doc);
    snprintf(args, sizeof args, "eval '%s/q' --confusion '%s/q/confusion.png' 2>/dev/null", dir,
             dir);
    ck_assert_msg(run(args, out, sizeof out) == 0, "%s", out);
    doc = tm_test_json(out);
    const char *model = json_string_value(tm_test_json_get(doc, "model"));
    ck_assert_msg(model && strstr(model, "integer runtime"), "%s", out);
    ck_assert_double_eq_tol(tm_test_json_num(doc, "test_accuracy"), qacc, 1e-9);
    json_decref(doc);
    /* every training run's curves: the script always, the PNG with gnuplot */
    int gnuplot = system("command -v gnuplot >/dev/null 2>&1") == 0;
    const char *runs[4] = {"r", "r/ablation-image", "r/ablation-audio", "q"};
    for (int i = 0; i < 4; i++) {
        const char *pic = i == 3 ? "confusion" : "training";
        snprintf(path, sizeof path, "%s/%s/%s.gp", dir, runs[i], pic);
        FILE *f = fopen(path, "r");
        ck_assert_msg(f != NULL, "no %s", path);
        fclose(f);
        snprintf(path, sizeof path, "%s/%s/%s.png", dir, runs[i], pic);
        f = fopen(path, "rb");
        ck_assert_msg(!gnuplot || f != NULL, "no %s", path);
        if (f) {
            unsigned char sig[8] = {0};
            ck_assert_int_eq(fread(sig, 1, 8, f), 8);
            ck_assert_msg(!memcmp(sig, "\x89PNG\r\n\x1a\n", 8), "%s is not a PNG", path);
            fseek(f, 0, SEEK_END);
            ck_assert_int_gt(ftell(f), 10000); /* two panels of curves, not an empty image */
            fclose(f);
        }
    }
    free(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("cli");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, help_and_usage_errors);
    tcase_add_test(tc, bad_set_is_an_error_before_training);
    tcase_add_test(tc, quickstart_fusion_beats_each_branch);
    suite_add_tcase(s, tc);
    return tm_test_run(s);
}
