/* Training loop: overfitting, determinism, checkpoints, resume, NaN. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tm_checkpoint.h"
#include "tm_run.h"
#include "tm_test_util.h"
#include "tm_run_folder.h"
#include "tm_train.h"

static const char *tiny =
    "[experiment]\nseed = 5\nthreads = %d\n"
    "[data]\nsource = synthetic\nclasses = 4\ntrain_samples = %d\nval_samples = 64\n"
    "test_samples = 64\nnoise = 0.3\n"
    "[train]\nepochs = %d\nbatch_size = 16\nlr = 0.005\n"
    "[image]\ninput = 1x16x16\n"
    "[image.c]\ntype = conv\nfilters = 4\nbatch_norm = 1\nactivation = relu\n"
    "[image.p]\ntype = maxpool\nsize = 4\n"
    "[image.f]\ntype = flatten\n"
    "[audio]\ninput = 1x12x24\n"
    "[audio.s]\ntype = separable\nfilters = 4\nactivation = relu\n"
    "[audio.p]\ntype = avgpool\nsize = 4\n"
    "[audio.f]\ntype = flatten\n"
    "[fusion]\ntype = concat\n"
    "[head.d]\ntype = dropout\nrate = 0.2\n"
    "[head.out]\ntype = dense\nunits = classes\n";

static void make_experiment(tm_experiment *e, int threads, int train_samples, int epochs)
{
    char text[4096];
    snprintf(text, sizeof text, tiny, threads, train_samples, epochs);
    TM_CK(tm_experiment_parse(e, text, "tiny.cfg", NULL, 0));
}

static tm_model *train_tiny(int threads, int epochs, const char *dir, int stop, int resume,
                            tm_train_result *res)
{
    tm_experiment e;
    make_experiment(&e, threads, 256, epochs);
    tm_splits data;
    TM_CK(tm_load_splits(&e, &data, NULL));
    tm_experiment_set_classes(&e, data.train.n_classes);
    tm_train_options o = {dir, resume, !resume, NULL, stop, NULL, 0, NULL};
    tm_model *m = NULL;
    TM_CK(tm_train(&e, &e.model, &data, &o, &m, res));
    tm_splits_free(&data);
    tm_experiment_free(&e);
    return m;
}

static int same_weights(const tm_model *a, const tm_model *b)
{
    if (a->n_params != b->n_params)
        return 0;
    for (int i = 0; i < a->n_params; i++)
        if (memcmp(a->params[i].t->data, b->params[i].t->data,
                   a->params[i].t->size * sizeof(float)))
            return 0;
    for (int i = 0; i < a->n_buffers; i++)
        if (memcmp(a->buffers[i].t->data, b->buffers[i].t->data,
                   a->buffers[i].t->size * sizeof(float)))
            return 0;
    return 1;
}

START_TEST(small_model_overfits_a_small_batch)
{
    tm_experiment e;
    make_experiment(&e, 1, 32, 60);
    tm_splits data;
    TM_CK(tm_load_splits(&e, &data, NULL));
    tm_experiment_set_classes(&e, data.train.n_classes);
    /* train on 32 samples, validate and test on the same 32 */
    tm_dataset_free(&data.val);
    tm_dataset_free(&data.test);
    int idx[32];
    for (int i = 0; i < 32; i++)
        idx[i] = i;
    TM_CK(tm_dataset_subset(&data.train, idx, 32, &data.val));
    TM_CK(tm_dataset_subset(&data.train, idx, 32, &data.test));
    char *dir = tm_test_tmpdir("overfit");
    tm_train_options o = {dir, 0, 1, NULL, 0, NULL, 0, NULL};
    tm_train_result r;
    TM_CK(tm_train(&e, &e.model, &data, &o, NULL, &r));
    ck_assert_double_eq(r.test.accuracy, 1.0);
    ck_assert_double_lt(r.test.loss, 0.1);
    tm_metrics_free(&r.test);
    tm_splits_free(&data);
    tm_experiment_free(&e);
    free(dir);
}
END_TEST

START_TEST(same_seed_one_thread_gives_identical_weights)
{
    char *d1 = tm_test_tmpdir("det1"), *d2 = tm_test_tmpdir("det2");
    tm_train_result r1, r2;
    tm_model *a = train_tiny(1, 2, d1, 0, 0, &r1);
    tm_model *b = train_tiny(1, 2, d2, 0, 0, &r2);
    ck_assert(same_weights(a, b));
    ck_assert_double_eq(r1.test.accuracy, r2.test.accuracy);
    /* and the weights did move: a different seed differs */
    tm_model_free(a);
    tm_model_free(b);
    tm_metrics_free(&r1.test);
    tm_metrics_free(&r2.test);
    free(d1);
    free(d2);
}
END_TEST

START_TEST(resume_after_stop_matches_uninterrupted_run)
{
    char *full = tm_test_tmpdir("full"), *part = tm_test_tmpdir("part");
    tm_train_result r;
    tm_model *a = train_tiny(2, 4, full, 0, 0, &r);
    tm_metrics_free(&r.test);
    tm_model *b = train_tiny(2, 4, part, 2, 0, &r);
    ck_assert(r.stopped_early);
    ck_assert_int_eq(r.epochs_done, 2);
    ck_assert(!same_weights(a, b));
    tm_model_free(b);
    b = train_tiny(2, 4, part, 0, 1, &r);
    ck_assert_int_eq(r.epochs_done, 4);
    ck_assert(same_weights(a, b));
    tm_metrics_free(&r.test);
    /* the log has exactly one row per epoch after the resume */
    char path[4096], line[512];
    snprintf(path, sizeof path, "%s/log.csv", part);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    int rows = 0;
    while (fgets(line, sizeof line, f))
        rows++;
    fclose(f);
    ck_assert_int_eq(rows, 5);
    tm_model_free(a);
    tm_model_free(b);
    free(full);
    free(part);
}
END_TEST

START_TEST(existing_run_is_not_overwritten)
{
    char *dir = tm_test_tmpdir("keep");
    tm_train_result r;
    tm_model *a = train_tiny(1, 1, dir, 0, 0, &r);
    tm_model_free(a);
    tm_metrics_free(&r.test);
    tm_experiment e;
    make_experiment(&e, 1, 256, 1);
    tm_splits data;
    TM_CK(tm_load_splits(&e, &data, NULL));
    tm_experiment_set_classes(&e, data.train.n_classes);
    tm_train_options o = {dir, 0, 0, NULL, 0, NULL, 0, NULL};
    ck_assert_int_eq(tm_train(&e, &e.model, &data, &o, NULL, &r), TM_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(tm_last_error(), "--resume"));
    tm_splits_free(&data);
    tm_experiment_free(&e);
    free(dir);
}
END_TEST

START_TEST(nan_in_training_stops_with_a_clear_error)
{
    tm_experiment e;
    make_experiment(&e, 1, 256, 3);
    tm_splits data;
    TM_CK(tm_load_splits(&e, &data, NULL));
    tm_experiment_set_classes(&e, data.train.n_classes);
    for (size_t i = 0; i < data.train.mod[0].dim * data.train.n; i += 97)
        data.train.x[0][i] = NAN;
    char *dir = tm_test_tmpdir("nan");
    tm_train_options o = {dir, 0, 1, NULL, 0, NULL, 0, NULL};
    tm_train_result r;
    tm_status s = tm_train(&e, &e.model, &data, &o, NULL, &r);
    ck_assert_int_eq(s, TM_ERR_NUMERIC);
    ck_assert_ptr_nonnull(strstr(tm_last_error(), "NaN"));
    ck_assert_ptr_nonnull(strstr(tm_last_error(), "epoch 1 batch 1"));
    tm_splits_free(&data);
    tm_experiment_free(&e);
    free(dir);
}
END_TEST

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A real kill -9 of the command-line program mid-run, then --resume. */
START_TEST(killed_cli_run_resumes_to_the_same_weights)
{
    const char *build = getenv("TM_BUILD_DIR");
    if (!build) {
        printf("skip: TM_BUILD_DIR not set (run through ctest)\n");
        return;
    }
    char exe[4096], cfg[4096], cmd[16384];
    snprintf(exe, sizeof exe, "%s/tinym2net", build);
    char *tmp = tm_test_tmpdir("kill");
    snprintf(cfg, sizeof cfg, "%s/exp.cfg", tmp);
    char text[4096];
    snprintf(text, sizeof text, tiny, 1, 1024, 6);
    FILE *f = fopen(cfg, "w");
    fputs(text, f);
    fclose(f);
    char full[4096], killed[4096];
    snprintf(full, sizeof full, "%s/full", tmp);
    snprintf(killed, sizeof killed, "%s/killed", tmp);
    snprintf(cmd, sizeof cmd, "'%s' train '%s' --out '%s' --quiet", exe, cfg, full);
    ck_assert_int_eq(system(cmd), 0);

    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        execl(exe, exe, "train", cfg, "--out", killed, "--quiet", (char *)NULL);
        _exit(127);
    }
    char ck[4200];
    snprintf(ck, sizeof ck, "%s/checkpoint.h5", killed);
    struct stat st;
    for (int i = 0; i < 3000 && stat(ck, &st) != 0; i++)
        sleep_ms(10);
    sleep_ms(30);
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    ck_assert_msg(WIFSIGNALED(status), "the run finished before it could be killed");
    snprintf(cmd, sizeof cmd, "'%s' train '%s' --out '%s' --resume --quiet", exe, cfg, killed);
    ck_assert_int_eq(system(cmd), 0);

    /* compare the two model.h5 files array by array */
    tm_experiment e;
    make_experiment(&e, 1, 1024, 6);
    tm_experiment_set_classes(&e, 4);
    tm_rng r;
    tm_rng_seed(&r, 1);
    tm_model *a = NULL, *b = NULL;
    TM_CK(tm_model_build(&a, &e.model, &r));
    TM_CK(tm_model_build(&b, &e.model, &r));
    snprintf(ck, sizeof ck, "%s/model.h5", full);
    TM_CK(tm_model_load_weights(a, ck));
    snprintf(ck, sizeof ck, "%s/model.h5", killed);
    TM_CK(tm_model_load_weights(b, ck));
    ck_assert(same_weights(a, b));
    tm_model_free(a);
    tm_model_free(b);
    tm_experiment_free(&e);
    free(tmp);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("train");
    TCase *tc = tcase_create("train");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, small_model_overfits_a_small_batch);
    tcase_add_test(tc, same_seed_one_thread_gives_identical_weights);
    tcase_add_test(tc, resume_after_stop_matches_uninterrupted_run);
    tcase_add_test(tc, existing_run_is_not_overwritten);
    tcase_add_test(tc, nan_in_training_stops_with_a_clear_error);
    tcase_add_test(tc, killed_cli_run_resumes_to_the_same_weights);
    suite_add_tcase(s, tc);
    return tm_test_run(s);
}
