/* Manifest data sets end to end: features from the runtime front end, the
 * HDF5 feature cache, bad rows, group splits, standardisation, augmentation. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "tm_audio.h"
#include "tm_data_load.h"
#include "tm_manifest_data.h"
#include "tm_test_util.h"

static const char *data_dir;

/* A manifest of the first n rows of avdigits/train.csv with absolute paths,
 * with an optional extra line appended verbatim. */
static char *write_manifest(const char *dir, const char *name, int n, const char *extra)
{
    static char path[4096];
    char src[4096], line[1024];
    snprintf(src, sizeof src, "%s/avdigits/train.csv", data_dir);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *in = fopen(src, "r"), *out = fopen(path, "w");
    ck_assert_ptr_nonnull(in);
    ck_assert_ptr_nonnull(out);
    ck_assert_ptr_nonnull(fgets(line, sizeof line, in));
    fputs(line, out);
    for (int i = 0; i < n && fgets(line, sizeof line, in); i++) {
        char img[512], aud[512], rest[512];
        ck_assert_int_eq(sscanf(line, "%511[^,],%511[^,],%511[^\n]", img, aud, rest), 3);
        fprintf(out, "%s/avdigits/%s,%s/avdigits/%s,%s\n", data_dir, img, data_dir, aud, rest);
    }
    if (extra)
        fputs(extra, out);
    fclose(in);
    fclose(out);
    return path;
}

static void specs(tm_feature_spec f[2])
{
    memset(f, 0, sizeof(tm_feature_spec) * 2);
    snprintf(f[0].name, sizeof f[0].name, "image");
    f[0].kind = TM_FEATURE_IMAGE;
    f[0].channels = 1;
    f[0].height = f[0].width = 28;
    snprintf(f[1].name, sizeof f[1].name, "audio");
    f[1].kind = TM_FEATURE_MFCC;
    tm_rt_frontend_config c = {.sample_rate = 8000, .window_length = 256, .hop_length = 128,
                               .n_mels = 40, .n_mfcc = 13, .fmin = 20.0f, .fmax = 4000.0f,
                               .window = TM_RT_WINDOW_HANN, .log_floor = 1e-6f,
                               .num_samples = 8000};
    f[1].fe = c;
    f[1].duration = 1.0f;
}

static tm_manifest_options options(const tm_feature_spec *f, const char *cache)
{
    tm_manifest_options o;
    memset(&o, 0, sizeof o);
    o.specs = f;
    o.n_specs = 2;
    o.label_column = "label";
    o.group_column = "speaker";
    o.cache_dir = cache;
    return o;
}

#define NEED_DATA()                                                              \
    do {                                                                         \
        if (!(data_dir = tm_test_data_dir())) {                                  \
            printf("skip: TINYM2NET_DATA is not set\n");                         \
            return;                                                              \
        }                                                                        \
    } while (0)

START_TEST(features_are_the_runtime_front_end_and_the_cache_round_trips)
{
    NEED_DATA();
    char *dir = tm_test_tmpdir("pipe"), cache[4200];
    snprintf(cache, sizeof cache, "%s/cache", dir);
    const char *man = write_manifest(dir, "m.csv", 40, NULL);
    tm_feature_spec f[2];
    specs(f);
    tm_manifest_options o = options(f, cache);
    tm_manifest_set a, b;
    TM_CK(tm_manifest_set_load(&a, man, &o));
    ck_assert_int_eq(a.data.n, 40);
    ck_assert_int_eq(a.from_cache, 0);
    ck_assert_int_eq(a.data.mod[1].shape[1], 13);
    ck_assert_int_eq(a.data.mod[1].shape[2], 61);
    ck_assert_int_gt(a.n_groups, 0);
    /* row 0's audio through the device front end gives the same bits */
    char wav[4096];
    FILE *fm = fopen(man, "r");
    char line[2048];
    ck_assert_ptr_nonnull(fgets(line, sizeof line, fm));
    ck_assert_ptr_nonnull(fgets(line, sizeof line, fm));
    fclose(fm);
    sscanf(line, "%*[^,],%4095[^,]", wav);
    float pcm[8000], feat[13 * 61];
    TM_CK(tm_audio_load(wav, 8000, 8000, TM_AUDIO_FIT_START, pcm, NULL));
    size_t ws = tm_rt_frontend_workspace_bytes(&f[1].fe);
    void *w = malloc(ws);
    tm_rt_frontend fe;
    ck_assert_int_eq(tm_rt_frontend_init(&fe, &f[1].fe, w, ws), TM_RT_OK);
    ck_assert_int_eq(tm_rt_frontend_run(&fe, pcm, feat), TM_RT_OK);
    ck_assert_int_eq(memcmp(feat, a.data.x[1], sizeof feat), 0);
    free(w);
    /* second load: from the cache, identical */
    TM_CK(tm_manifest_set_load(&b, man, &o));
    ck_assert_int_eq(b.from_cache, 1);
    ck_assert_int_eq(b.data.n, a.data.n);
    for (int m = 0; m < 2; m++)
        ck_assert_int_eq(memcmp(a.data.x[m], b.data.x[m], a.data.mod[m].dim * a.data.n * 4), 0);
    ck_assert_int_eq(memcmp(a.data.label, b.data.label, sizeof(int) * a.data.n), 0);
    tm_manifest_set_free(&b);
    /* other front-end settings: rebuilt, not reused */
    f[1].fe.n_mfcc = 12;
    TM_CK(tm_manifest_set_load(&b, man, &o));
    ck_assert_int_eq(b.from_cache, 0);
    ck_assert_int_eq(b.data.mod[1].shape[1], 12);
    tm_manifest_set_free(&b);
    tm_manifest_set_free(&a);
    free(dir);
}
END_TEST

START_TEST(bad_rows_fail_with_file_and_line_or_are_skipped_and_counted)
{
    NEED_DATA();
    char *dir = tm_test_tmpdir("bad");
    char extra[8192];
    snprintf(extra, sizeof extra, "%s/avdigits/images/3/3_0699.png,%s/nowhere.wav,3,lucas\n",
             data_dir, dir);
    const char *man = write_manifest(dir, "bad.csv", 5, extra);
    tm_feature_spec f[2];
    specs(f);
    tm_manifest_options o = options(f, NULL);
    tm_manifest_set s;
    ck_assert_int_eq(tm_manifest_set_load(&s, man, &o), TM_ERR_IO);
    ck_assert_msg(strstr(tm_last_error(), "bad.csv:7"), "%s", tm_last_error());
    ck_assert_msg(strstr(tm_last_error(), "nowhere.wav"), "%s", tm_last_error());
    o.skip_bad_rows = 1;
    char rep[4200];
    snprintf(rep, sizeof rep, "%s/report.txt", dir);
    /* listed (manifest:line, file, reason) when decoded and again when the
     * feature cache is read back */
    char cache[4200];
    snprintf(cache, sizeof cache, "%s/cache", dir);
    o.cache_dir = cache;
    for (int pass = 0; pass < 2; pass++) {
        o.skip_report = fopen(rep, "w");
        TM_CK(tm_manifest_set_load(&s, man, &o));
        fclose(o.skip_report);
        ck_assert_int_eq(s.from_cache, pass);
        ck_assert_int_eq(s.data.n, 5);
        ck_assert_int_eq(s.rows_skipped, 1);
        ck_assert_int_eq(s.rows_read, 6);
        FILE *r = fopen(rep, "r");
        char text[4096] = "";
        size_t got = fread(text, 1, sizeof text - 1, r);
        text[got] = '\0';
        fclose(r);
        ck_assert_msg(strstr(text, "skipped 1 bad row") && strstr(text, "bad.csv:7: ") &&
                          strstr(text, "nowhere.wav"),
                      "pass %d: %s", pass, text);
        ck_assert_ptr_nonnull(s.skipped_rows);
        ck_assert_msg(strstr(s.skipped_rows, "bad.csv:7: "), "%s", s.skipped_rows);
        tm_manifest_set_free(&s);
    }
    o.cache_dir = NULL;
    o.skip_report = NULL;
    /* an unknown label against the training classes */
    o.skip_bad_rows = 0;
    o.report = NULL;
    tm_classes cl;
    const char *man2 = write_manifest(dir, "few.csv", 3, NULL);
    tm_manifest m;
    TM_CK(tm_manifest_load(&m, man2));
    TM_CK(tm_manifest_classes(&m, tm_manifest_column(&m, "label"), &cl));
    tm_manifest_free(&m);
    const char *man3 = write_manifest(dir, "more.csv", 30, NULL);
    ck_assert_int_eq(tm_manifest_set_load(&s, man3, &(tm_manifest_options){
                                                        .specs = f, .n_specs = 2,
                                                        .label_column = "label",
                                                        .classes = &cl}),
                     TM_ERR_FORMAT);
    ck_assert_msg(strstr(tm_last_error(), "unknown label"), "%s", tm_last_error());
    ck_assert_msg(strstr(tm_last_error(), "more.csv:"), "%s", tm_last_error());
    tm_classes_free(&cl);
    /* a missing column */
    tm_manifest_options o2 = options(f, NULL);
    o2.label_column = "digit";
    ck_assert_int_eq(tm_manifest_set_load(&s, man2, &o2), TM_ERR_FORMAT);
    ck_assert_msg(strstr(tm_last_error(), "no label column 'digit'"), "%s", tm_last_error());
    free(dir);
}
END_TEST

static const char *exp_text =
    "[experiment]\nseed = 2\nthreads = 2\n"
    "[data]\nsource = manifest\ntrain = %s\nroot = /\ngroup_column = speaker\n"
    "val_fraction = 0.2\ntest_fraction = 0.2\ncache = none\n"
    "[train]\nepochs = 1\n"
    "[image]\ninput = 1x28x28\nfeature = image\n%s"
    "[image.f]\ntype = flatten\n"
    "[audio]\ninput = 1x13x61\nfeature = mfcc\nfmax = 4000\n%s"
    "[audio.f]\ntype = flatten\n"
    "[fusion]\ntype = concat\n[head.out]\ntype = dense\nunits = classes\n";

START_TEST(splits_keep_groups_apart_and_standardise_on_train)
{
    NEED_DATA();
    char *dir = tm_test_tmpdir("split");
    const char *man = write_manifest(dir, "m.csv", 300, NULL);
    char text[8192];
    snprintf(text, sizeof text, exp_text, man, "", "");
    tm_experiment e;
    TM_CK(tm_experiment_parse(&e, text, "split.cfg", NULL, 0));
    tm_splits s;
    TM_CK(tm_load_splits(&e, &s, NULL));
    ck_assert_int_eq(s.train.n + s.val.n + s.test.n, 300);
    ck_assert_ptr_nonnull(s.train.group);
    for (int i = 0; i < s.test.n; i++) {
        for (int j = 0; j < s.train.n; j++)
            ck_assert_int_ne(s.test.group[i], s.train.group[j]);
        for (int j = 0; j < s.val.n; j++)
            ck_assert_int_ne(s.test.group[i], s.val.group[j]);
    }
    /* audio standardised with the training split's statistics, images not */
    ck_assert_float_gt(s.std[1], 0.0f);
    ck_assert_float_eq(s.std[0], 0.0f);
    double sum = 0, sq = 0;
    size_t n = (size_t)s.train.n * s.train.mod[1].dim;
    for (size_t i = 0; i < n; i++) {
        sum += s.train.x[1][i];
        sq += (double)s.train.x[1][i] * s.train.x[1][i];
    }
    ck_assert_double_lt(fabs(sum / n), 1e-3);
    ck_assert_double_lt(fabs(sq / n - 1.0), 1e-3);
    ck_assert_int_eq(s.augment, 0);
    tm_splits_free(&s);
    tm_experiment_free(&e);
    free(dir);
}
END_TEST

START_TEST(augmentation_is_seeded_and_changes_only_training_features)
{
    NEED_DATA();
    char *dir = tm_test_tmpdir("aug");
    const char *man = write_manifest(dir, "m.csv", 60, NULL);
    char text[8192];
    snprintf(text, sizeof text, exp_text, man, "aug_shift = 2\naug_noise = 0.1\n",
             "aug_shift = 0.1\naug_gain_db = 6\naug_snr_db = 20\n");
    tm_experiment e;
    TM_CK(tm_experiment_parse(&e, text, "aug.cfg", NULL, 0));
    tm_splits s;
    TM_CK(tm_load_splits(&e, &s, NULL));
    ck_assert_int_eq(s.augment, 1);
    tm_dataset a, b;
    int idx[256];
    for (int i = 0; i < s.train.n; i++)
        idx[i] = i;
    TM_CK(tm_dataset_subset(&s.train, idx, s.train.n, &a));
    TM_CK(tm_dataset_subset(&s.train, idx, s.train.n, &b));
    tm_rng r1, r2;
    tm_rng_seed(&r1, 9);
    tm_rng_seed(&r2, 9);
    TM_CK(tm_splits_augment(&s, &r1, NULL, &a));
    TM_CK(tm_splits_augment(&s, &r2, NULL, &b));
    for (int m = 0; m < 2; m++) {
        size_t bytes = (size_t)a.n * a.mod[m].dim * sizeof(float);
        ck_assert_int_eq(memcmp(a.x[m], b.x[m], bytes), 0);
        ck_assert_int_ne(memcmp(a.x[m], s.train.x[m], bytes), 0);
    }
    /* another epoch draws other augmentations */
    TM_CK(tm_splits_augment(&s, &r1, NULL, &b));
    ck_assert_int_ne(memcmp(a.x[1], b.x[1], (size_t)a.n * a.mod[1].dim * 4), 0);
    tm_dataset_free(&a);
    tm_dataset_free(&b);
    tm_splits_free(&s);
    tm_experiment_free(&e);
    free(dir);
}
END_TEST

START_TEST(front_end_settings_must_match_the_branch_input)
{
    tm_experiment e;
    const char *text = "[data]\nsource = manifest\ntrain = x.csv\n"
                       "[audio]\ninput = 1x13x60\nfeature = mfcc\n"
                       "[audio.f]\ntype = flatten\n[head.o]\ntype = dense\nunits = 2\n";
    ck_assert_int_eq(tm_experiment_parse(&e, text, "fe.cfg", NULL, 0), TM_ERR_CONFIG);
    ck_assert_msg(strstr(tm_last_error(), "1x13x61") && strstr(tm_last_error(), "fe.cfg:4"),
                  "%s", tm_last_error());
    text = "[data]\nsource = manifest\ntrain = x.csv\n"
           "[audio]\ninput = 1x13x61\nfeature = mfcc\nfmax = 9000\n"
           "[audio.f]\ntype = flatten\n[head.o]\ntype = dense\nunits = 2\n";
    ck_assert_int_eq(tm_experiment_parse(&e, text, "fe.cfg", NULL, 0), TM_ERR_CONFIG);
    ck_assert_msg(strstr(tm_last_error(), "fmax"), "%s", tm_last_error());
}
END_TEST

int main(void)
{
    Suite *s = suite_create("data_pipeline");
    TCase *tc = tcase_create("pipeline");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, features_are_the_runtime_front_end_and_the_cache_round_trips);
    tcase_add_test(tc, bad_rows_fail_with_file_and_line_or_are_skipped_and_counted);
    tcase_add_test(tc, splits_keep_groups_apart_and_standardise_on_train);
    tcase_add_test(tc, augmentation_is_seeded_and_changes_only_training_features);
    tcase_add_test(tc, front_end_settings_must_match_the_branch_input);
    suite_add_tcase(s, tc);
    return tm_test_run(s);
}
