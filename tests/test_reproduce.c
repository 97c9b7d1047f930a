/* `tinym2net reproduce --quick` end to end on a tiny data set of generated
 * PNG and WAV files (three classes: a bright row in the image, a tone in the
 * audio) with small experiment files written here (hidden --configs): the
 * results page has its tables, the plots exist, and runtime accuracy equals
 * the integer simulation's (the command fails otherwise; the table shows
 * both). Also its argument errors. */
#include <check.h>
#include <ctype.h>
#include <math.h>
#include <png.h>
#include <sndfile.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tm_test_util.h"

#define N_TRAIN 60
#define N_TEST 30
#define RATE 8000
#define SAMPLES 2000 /* 0.25 s: 14 frames of 256 samples, hop 128 */

static void write_split(const char *dir, const char *name, int n, tm_rng *r)
{
    char path[8192];
    snprintf(path, sizeof path, "%s/%s.csv", dir, name);
    FILE *m = fopen(path, "w");
    ck_assert_ptr_nonnull(m);
    fprintf(m, "image,audio,label\n");
    static const double freq[3] = {400, 1200, 2800};
    for (int i = 0; i < n; i++) {
        int c = i % 3;
        uint8_t px[64];
        for (int k = 0; k < 64; k++)
            px[k] = (uint8_t)(tm_rng_uniform(r) * 60);
        for (int x = 0; x < 8; x++)
            px[(1 + 3 * c) * 8 + x] = 230;
        short pcm[SAMPLES];
        for (int k = 0; k < SAMPLES; k++)
            pcm[k] = (short)(8000 * sin(6.283185307179586 * freq[c] * k / RATE) +
                             1500 * (tm_rng_uniform(r) - 0.5));
        snprintf(path, sizeof path, "%s/%s-%d.png", dir, name, i);
        tm_test_write_png(path, px, 8, 8);
        snprintf(path, sizeof path, "%s/%s-%d.wav", dir, name, i);
        tm_test_write_wav(path, pcm, SAMPLES, RATE);
        fprintf(m, "%s-%d.png,%s-%d.wav,c%d\n", name, i, name, i, c);
    }
    ck_assert_int_eq(fclose(m), 0);
}

static const char *IMAGE_BRANCH =
    "[image]\ninput = 1x8x8\nfeature = image\ncolumn = image\n\n"
    "[image.conv1]\ntype = conv\nfilters = 4\nsize = 3\npadding = same\nbatch_norm = 1\n"
    "activation = relu\n\n"
    "[image.c2]\ntype = %s\nfilters = 8\nsize = 3\npadding = same\nactivation = relu\n\n"
    "[image.pool]\ntype = maxpool\nsize = 2\n\n[image.flat]\ntype = flatten\n\n"
    "[image.fc]\ntype = dense\nunits = 8\nactivation = relu\n\n";
static const char *AUDIO_BRANCH =
    "[audio]\ninput = 1x8x14\nfeature = mfcc\ncolumn = audio\nsample_rate = 8000\n"
    "duration = 0.25\nwindow = 256\nhop = 128\nmels = 20\ncoefficients = 8\nfmin = 20\n"
    "fmax = 4000\nstandardize = 1\n\n"
    "[audio.conv1]\ntype = conv\nfilters = 4\nsize = 3\npadding = same\nbatch_norm = 1\n"
    "activation = relu\n\n"
    "[audio.c2]\ntype = %s\nfilters = 8\nsize = 3\npadding = same\nactivation = relu\n\n"
    "[audio.pool]\ntype = maxpool\nsize = 2\n\n[audio.flat]\ntype = flatten\n\n"
    "[audio.fc]\ntype = dense\nunits = 8\nactivation = relu\n\n";

static void write_cfg(const char *cfgdir, const char *file, const char *datadir, int image,
                      int audio, const char *conv)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.cfg", cfgdir, file);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f,
            "[experiment]\nname = tiny-%s\nseed = 0\nthreads = 1\n\n"
            "[data]\nsource = manifest\nroot = %s\ntrain = train.csv\ntest = test.csv\n"
            "val_fraction = 0.2\nlabel_column = label\ncache = none\n\n"
            "[train]\nepochs = 3\nbatch_size = 8\noptimizer = adam\nlr = 0.01\n\n",
            file, datadir);
    if (image)
        fprintf(f, IMAGE_BRANCH, conv);
    if (audio)
        fprintf(f, AUDIO_BRANCH, conv);
    if (image && audio)
        fprintf(f, "[fusion]\ntype = concat\n\n");
    fprintf(f, "[head.out]\ntype = dense\nunits = classes\n");
    ck_assert_int_eq(fclose(f), 0);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *b = calloc(1, 1 << 20);
    ck_assert_ptr_nonnull(b);
    size_t n = fread(b, 1, (1 << 20) - 1, f);
    b[n] = '\0';
    fclose(f);
    return b;
}

static int file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (int)st.st_size : -1;
}

static const char *bin_dir(void)
{
    const char *b = getenv("TM_BUILD_DIR");
    return b ? b : ".";
}

/* The cells of the table row that starts with "| label |". */
static int row_cells(const char *md, const char *label, char cells[12][64])
{
    char pat[256];
    snprintf(pat, sizeof pat, "| %s |", label);
    const char *p = strstr(md, pat);
    if (!p)
        return 0;
    p += 1;
    int n = 0;
    while (n < 12 && *p && *p != '\n') {
        const char *e = strpbrk(p, "|\n");
        if (!e || *e == '\n')
            break;
        while (*p == ' ')
            p++;
        int L = (int)(e - p);
        while (L > 0 && p[L - 1] == ' ')
            L--;
        snprintf(cells[n++], 64, "%.*s", L, p);
        p = e + 1;
    }
    return n;
}

/* DIR/data (the generated files) and DIR/cfg/tiny (the four experiment
 * files); cfg gets DIR/cfg, the --configs folder. */
static void make_tiny(const char *dir, char *cfg, size_t n)
{
    char data[4096], tiny[4200];
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(cfg, n, "%s/cfg", dir);
    snprintf(tiny, sizeof tiny, "%s/cfg/tiny", dir);
    ck_assert_int_eq(mkdir(data, 0777), 0);
    ck_assert_int_eq(mkdir(cfg, 0777), 0);
    ck_assert_int_eq(mkdir(tiny, 0777), 0);
    tm_rng r;
    tm_rng_seed(&r, 7);
    write_split(data, "train", N_TRAIN, &r);
    write_split(data, "test", N_TEST, &r);
    write_cfg(tiny, "image-base", data, 1, 0, "conv");
    write_cfg(tiny, "audio-base", data, 0, 1, "conv");
    write_cfg(tiny, "fused", data, 1, 1, "conv");
    write_cfg(tiny, "fused-compressed", data, 1, 1, "separable");
}

START_TEST(quick_end_to_end)
{
    char *dir = tm_test_tmpdir("reproduce");
    char cfg[4096], out[4096], res[4096], cmd[16384];
    make_tiny(dir, cfg, sizeof cfg);
    snprintf(out, sizeof out, "%s/out", dir);
    snprintf(res, sizeof res, "%s/docs/results.md", dir);
    snprintf(cmd, sizeof cmd,
             "'%s/tinym2net' reproduce --quick --epochs 4 --data tiny --configs '%s' --out '%s' "
             "--results '%s' --threads 1 2>&1",
             bin_dir(), cfg, out, res);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    char log[1 << 15];
    size_t got = fread(log, 1, sizeof log - 1, p);
    log[got] = '\0';
    int rc = pclose(p);
    ck_assert_msg(rc == 0, "reproduce failed (%d):\n%s", rc, log);
    ck_assert_msg(strstr(log, "(equal)") != NULL, "no runtime/simulation check in:\n%s", log);
    ck_assert_ptr_null(strstr(log, "DISAGREE"));

    char *md = slurp(res);
    ck_assert_msg(md != NULL, "%s was not written", res);
    ck_assert_ptr_nonnull(strstr(md, "## tiny"));
    ck_assert_ptr_nonnull(strstr(md, "tinym2net reproduce --quick"));
    ck_assert_ptr_nonnull(strstr(md, "Wall time: "));
    ck_assert_ptr_nonnull(strstr(md, "## Fusion against the best single modality"));
    ck_assert_ptr_nonnull(strstr(md, "88.4 %"));
    ck_assert_ptr_nonnull(strstr(md, "| tiny | "));
    static const char *rows[] = {"image only (standard conv)", "audio only (standard conv)",
                                 "fused (standard conv)",
                                 "fused compressed (separable, paper 8/4-bit)"};
    for (int i = 0; i < 4; i++) {
        char c[12][64];
        int n = row_cells(md, rows[i], c);
        ck_assert_msg(n == 10, "row '%s' has %d cells:\n%s", rows[i], n, md);
        /* float, int. sim., runtime: numbers in percent; sim == runtime */
        ck_assert_msg(strstr(c[1], "%") && strstr(c[2], "%"), "row '%s': %s / %s", rows[i],
                      c[1], c[2]);
        ck_assert_str_eq(c[2], c[3]);
        ck_assert_int_gt(atoi(c[5]), 0);   /* parameters */
        ck_assert_int_gt(atoi(c[6]), 100); /* model bytes */
        ck_assert_int_gt(atoi(c[7]), 0);   /* arena bytes */
        ck_assert_int_gt(atoi(c[8]), 0);   /* MACs */
        /* aarch64 equals the runtime when it ran */
        if (strcmp(c[4], "n/a"))
            ck_assert_str_eq(c[3], c[4]);
    }
    /* The searched row, when this build has the search command. */
    char c[12][64];
    int n = row_cells(md, "fused compressed (separable, searched bits)", c);
    ck_assert_int_ge(n, 2);
    if (n == 10)
        ck_assert_str_eq(c[2], c[3]);
    else
        ck_assert_ptr_nonnull(strstr(c[1], "search"));

    /* Plots beside the results file (gnuplot is a dependency of the suite). */
    char png[4200];
    snprintf(png, sizeof png, "%s/docs/results-accuracy-vs-bytes.png", dir);
    ck_assert_msg(file_size(png) > 1000, "%s missing or empty", png);
    snprintf(png, sizeof png, "%s/docs/results-confusion-tiny.png", dir);
    ck_assert_msg(file_size(png) > 1000, "%s missing or empty", png);
    ck_assert_ptr_nonnull(strstr(md, "results-confusion-tiny.png"));
    free(md);
    free(dir);
}
END_TEST

/* The page without what differs between any two runs: the date, wall times
 * and latencies (timings of this shared machine). */
static void normalise(char *md)
{
    char *o = md;
    for (char *line = md; *line;) {
        char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line + 1) : strlen(line);
        int skip = !strncmp(line, "Date:", 5) || !strncmp(line, "Wall time", 9) ||
                   !strncmp(line, "Command:", 8);
        if (!skip) {
            for (size_t k = 0; k < len; k++) {
                /* "0.091 ms" -> "T ms" */
                if (!strncmp(line + k, " ms", 3) && k > 0 && (isdigit((unsigned char)line[k - 1]))) {
                    size_t b = k;
                    while (b > 0 && (isdigit((unsigned char)line[b - 1]) || line[b - 1] == '.'))
                        b--;
                    memmove(o, line, b);
                    o += b;
                    *o++ = 'T';
                    line += k;
                    len -= k;
                    k = 0;
                }
            }
            memmove(o, line, len);
            o += len;
        }
        line += len;
    }
    *o = '\0';
}

/* mpirun -n 2 tinym2net reproduce: the jobs dealt out over two ranks give
 * the single-process page (apart from times). */
START_TEST(mpi_sweep_writes_the_same_page)
{
    if (system("command -v mpirun >/dev/null 2>&1") != 0) {
        printf("skip: mpirun not found (apt-get install openmpi-bin)\n");
        return;
    }
    char probe[8192], out1[256];
    snprintf(probe, sizeof probe, "'%s/tinym2net' reproduce --help | grep -c 'mpirun'",
             bin_dir());
    if (tm_test_run_cmd(probe, out1, sizeof out1) != 0 || atoi(out1) < 1) {
        printf("skip: this build has no MPI (TM_WITH_MPI=OFF)\n");
        return;
    }
    char *dir = tm_test_tmpdir("reproduce-mpi");
    char cfg[4096], cmd[16384];
    make_tiny(dir, cfg, sizeof cfg);
    char *page[2];
    for (int k = 0; k < 2; k++) {
        char res[4200], out[4200], log[1 << 15];
        snprintf(res, sizeof res, "%s/docs%d/results.md", dir, k);
        snprintf(out, sizeof out, "%s/out%d", dir, k);
        snprintf(cmd, sizeof cmd,
                 "%s '%s/tinym2net' reproduce --quick --epochs 3 --data tiny --configs '%s' "
                 "--out '%s' --results '%s' --threads 1 2>&1",
                 k ? "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun -n 2 "
                     "--oversubscribe --bind-to none"
                   : "",
                 bin_dir(), cfg, out, res);
        int rc = tm_test_run_cmd(cmd, log, sizeof log);
        ck_assert_msg(rc == 0, "reproduce %s failed (%d):\n%s", k ? "on 2 ranks" : "alone", rc,
                      log);
        if (k)
            ck_assert_msg(strstr(log, "2 ranks"), "not run over 2 ranks:\n%s", log);
        page[k] = slurp(res);
        ck_assert_msg(page[k] != NULL, "%s was not written", res);
        normalise(page[k]);
    }
    ck_assert_msg(strstr(page[0], "| fused compressed (separable, paper 8/4-bit) |"), "%s",
                  page[0]);
    ck_assert_msg(!strcmp(page[0], page[1]), "the pages differ:\n--- alone\n%s\n--- 2 ranks\n%s",
                  page[0], page[1]);
    free(page[0]);
    free(page[1]);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
    free(dir);
}
END_TEST

static int run_rc(const char *args, char *out, size_t n)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "'%s/tinym2net' reproduce %s 2>&1", bin_dir(), args);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t got = fread(out, 1, n - 1, p);
    out[got] = '\0';
    int rc = pclose(p);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

START_TEST(argument_errors)
{
    char *dir = tm_test_tmpdir("reproduce-args");
    char args[4096], out[8192];
    snprintf(args, sizeof args, "--data no-such-set --configs '%s' --out '%s/o'", dir, dir);
    ck_assert_int_eq(run_rc(args, out, sizeof out), 2);
    ck_assert_msg(strstr(out, "no-such-set: no such folder of experiment files"), "%s", out);
    ck_assert_int_eq(run_rc("--seeds 0,x", out, sizeof out), 2);
    ck_assert_ptr_nonnull(strstr(out, "--seeds"));
    ck_assert_int_eq(run_rc("--epochs 0", out, sizeof out), 2);
    ck_assert_ptr_nonnull(strstr(out, "--epochs"));
    ck_assert_int_eq(run_rc("--bogus 1", out, sizeof out), 2);
    ck_assert_ptr_nonnull(strstr(out, "unknown option '--bogus'"));
    ck_assert_int_eq(run_rc("--help", out, sizeof out), 0);
    ck_assert_ptr_nonnull(strstr(out, "usage: tinym2net reproduce"));
    free(dir);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("reproduce");
    TCase *tc = tcase_create("reproduce");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, quick_end_to_end);
    tcase_add_test(tc, argument_errors);
    tcase_add_test(tc, mpi_sweep_writes_the_same_page);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tm_test_run(suite());
}
