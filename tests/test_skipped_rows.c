/* data.skip_bad_rows = 1 leaves bad rows out, but never unseen: train,
 * eval, quantize and search list every skipped row (manifest:line, file,
 * reason) on stderr and count them in their JSON, also when the rows come
 * back from the feature cache. Small generated PNGs, two classes. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tm_test_util.h"

static char exe[4096];
static char out[1 << 20];

#define run(...) tm_test_run_exe(exe, out, sizeof out, __VA_ARGS__)

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
}

/* n rows of good images, then the given bad rows; returns the manifest path. */
static void write_manifest(const char *dir, const char *name, int n, const char *bad)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "image,label\n");
    for (int i = 0; i < n; i++) {
        uint8_t px[64];
        int cls = i % 2;
        for (int p = 0; p < 64; p++)
            px[p] = (uint8_t)(cls ? 200 + (p * 7 + i) % 50 : (p * 5 + i) % 50);
        char png[4300];
        snprintf(png, sizeof png, "%s/%s-%d.png", dir, name, i);
        tm_test_write_png(png, px, 8, 8);
        fprintf(f, "%s-%d.png,%s\n", name, i, cls ? "bright" : "dark");
    }
    fputs(bad, f);
    ck_assert_int_eq(fclose(f), 0);
}

static void expect_listed(const char *what)
{
    ck_assert_msg(strstr(out, "train.csv: skipped 2 bad rows of 18"), "%s: %s", what, out);
    ck_assert_msg(strstr(out, "train.csv:18: ") && strstr(out, "missing.png"), "%s: %s", what,
                  out);
    ck_assert_msg(strstr(out, "train.csv:19: ") && strstr(out, "garbage.png"), "%s: %s", what,
                  out);
    ck_assert_msg(strstr(out, "test.csv: skipped 1 bad row of 7") &&
                      strstr(out, "test.csv:8: ") && strstr(out, "also-missing.png"),
                  "%s: %s", what, out);
}

static const char *COUNTS = "\"rows_skipped\": {\"train\": 2, \"val\": 0, \"test\": 1}";

static void expect_counted(const char *dir)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/metrics.json", dir);
    size_t n = 0;
    char *m = tm_test_slurp(path, &n);
    ck_assert_msg(m != NULL, "no %s", path);
    ck_assert_msg(strstr(m, COUNTS), "%s: %s", path, m);
    free(m);
}

START_TEST(every_command_lists_and_counts_skipped_rows)
{
    if (!tm_test_build_exe(exe, sizeof exe, "tinym2net"))
        return;
    char *dir = tm_test_tmpdir("skipped");
    ck_assert_ptr_nonnull(dir);
    write_manifest(dir, "train.csv", 16, "missing.png,dark\ngarbage.png,bright\n");
    write_manifest(dir, "test.csv", 6, "also-missing.png,dark\n");
    char p[4300];
    snprintf(p, sizeof p, "%s/garbage.png", dir);
    write_text(p, "this is not a PNG file at all\n");
    char cfg[4300];
    snprintf(cfg, sizeof cfg, "%s/exp.cfg", dir);
    FILE *f = fopen(cfg, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f,
            "[experiment]\nname = skipped\nseed = 0\nthreads = 1\n\n"
            "[data]\nsource = manifest\nroot = %s\ntrain = train.csv\ntest = test.csv\n"
            "val_fraction = 0.25\nlabel_column = label\ncache = %s/cache\nskip_bad_rows = 1\n\n"
            "[train]\nepochs = 1\nbatch_size = 4\noptimizer = adam\nlr = 0.01\n\n"
            "[image]\ninput = 1x8x8\nfeature = image\ncolumn = image\n\n"
            "[image.c1]\ntype = conv\nfilters = 2\nsize = 3\npadding = same\n"
            "activation = relu\n\n[image.flat]\ntype = flatten\n\n"
            "[head.out]\ntype = dense\nunits = classes\n",
            dir, dir);
    ck_assert_int_eq(fclose(f), 0);

    /* twice: decoded, then read back from the feature cache */
    for (int pass = 0; pass < 2; pass++) {
        ck_assert_msg(run("train '%s' --out '%s/r%d' --quiet", cfg, dir, pass) == 0, "%s", out);
        expect_listed(pass ? "train (cached)" : "train");
        char r[4300];
        snprintf(r, sizeof r, "%s/r%d", dir, pass);
        expect_counted(r);
    }
    ck_assert_msg(run("eval '%s/r1'", dir) == 0, "%s", out);
    expect_listed("eval");
    ck_assert_msg(strstr(out, COUNTS), "eval: %s", out);
    ck_assert_msg(run("quantize '%s/r1' --out '%s/q' --qat-epochs 0 --quiet", dir, dir) == 0,
                  "%s", out);
    expect_listed("quantize");
    snprintf(p, sizeof p, "%s/q", dir);
    expect_counted(p);
    ck_assert_msg(run("search '%s/r1' --budget-bytes 1000000 --out '%s/s' --qat-epochs 0 --quiet",
                      dir, dir) == 0,
                  "%s", out);
    expect_listed("search");
    snprintf(p, sizeof p, "%s/s", dir);
    expect_counted(p);
    free(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("skipped_rows");
    TCase *tc = tcase_create("cli");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, every_command_lists_and_counts_skipped_rows);
    suite_add_tcase(s, tc);
    return tm_test_run(s);
}
