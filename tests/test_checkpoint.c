/* HDF5 checkpoint store: round trip, named errors, damaged files, atomic commit. */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tm_checkpoint.h"
#include "tm_test_util.h"

static const int w_shape[4] = {4, 1, 3, 3}, b_shape[1] = {4}, d_shape[2] = {10, 64};
/* A value pattern easy to find in the file bytes (see data_corruption_is_detected). */
#define MARK 1234.5f

/* HDF5 1.10 leaks small blocks inside its own error paths on corrupt object
 * headers; keep sanitizer builds (TM_SANITIZE) about our code. Our own handle
 * hygiene is checked with no_hdf5_handles_left() instead. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:libhdf5\n"; }

static void no_hdf5_handles_left(void)
{
    ck_assert_int_eq(H5Fget_obj_count((hid_t)H5F_OBJ_ALL, H5F_OBJ_ALL), 0);
}

static int file_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

static long file_size(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 ? (long)st.st_size : -1;
}

static void fill(float *x, int n, float base)
{
    for (int i = 0; i < n; i++)
        x[i] = base + 0.25f * i;
}

/* Writes the standard test checkpoint (version attribute = version) to path. */
static void write_ckpt(const char *path, long long version)
{
    float w[36], b[4], d[640];
    fill(w, 36, -3.0f);
    fill(b, 4, 7.0f);
    for (int i = 0; i < 640; i++)
        d[i] = MARK;
    tm_ckpt_writer *wr = NULL;
    TM_CK(tm_ckpt_create(&wr, path));
    TM_CK(tm_ckpt_put_array(wr, "image/conv1/weight", w, 4, w_shape));
    TM_CK(tm_ckpt_put_array(wr, "image/conv1/bias", b, 1, b_shape));
    TM_CK(tm_ckpt_put_array(wr, "fusion/dense/weight", d, 2, d_shape));
    TM_CK(tm_ckpt_put_attr_int(wr, "version", version));
    TM_CK(tm_ckpt_put_attr_string(wr, "experiment", "[train]\nepochs = 20\n"));
    TM_CK(tm_ckpt_commit(wr));
}

static char *tmp_path(char *buf, size_t n, const char *dir, const char *name)
{
    snprintf(buf, n, "%s/%s", dir, name);
    return buf;
}

static void remove_dir(char *dir, const char *const *names, int n)
{
    char p[4200];
    for (int i = 0; i < n; i++)
        remove(tmp_path(p, sizeof p, dir, names[i]));
    rmdir(dir);
    free(dir);
}

START_TEST(round_trip_of_arrays_and_attributes)
{
    char *dir = tm_test_tmpdir("ckpt");
    ck_assert_ptr_nonnull(dir);
    char path[4200], tmp[4300];
    tmp_path(path, sizeof path, dir, "a.h5");
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());

    float w[36], b[4];
    fill(w, 36, -3.0f);
    fill(b, 4, 7.0f);
    w[5] = -0.0f;
    w[6] = 1e-40f; /* subnormal */
    w[7] = 3.4e38f;
    /* Larger than the 64 KiB compact-attribute limit of the old HDF5 format. */
    size_t big_n = 100000;
    char *big = malloc(big_n + 1);
    for (size_t i = 0; i < big_n; i++)
        big[i] = (char)('a' + i % 26);
    big[big_n] = '\0';
    const uint32_t rng[4] = {0xdeadbeefu, 0, 1, 0xffffffffu};

    tm_ckpt_writer *wr = NULL;
    TM_CK(tm_ckpt_create(&wr, path));
    ck_assert(file_exists(tmp));
    ck_assert(!file_exists(path));
    TM_CK(tm_ckpt_put_array(wr, "image/conv1/weight", w, 4, w_shape));
    TM_CK(tm_ckpt_put_array(wr, "image/conv1/bias", b, 1, b_shape));
    ck_assert_int_eq(tm_ckpt_put_array(wr, "image/conv1/bias", b, 1, b_shape), TM_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(tm_last_error(), "written twice"));
    TM_CK(tm_ckpt_put_attr_string(wr, "experiment", big));
    TM_CK(tm_ckpt_put_attr_string(wr, "empty", ""));
    TM_CK(tm_ckpt_put_attr_int(wr, "epoch", 3));
    TM_CK(tm_ckpt_put_attr_int(wr, "epoch", 4)); /* replaces */
    TM_CK(tm_ckpt_put_attr_int(wr, "samples", -(1LL << 40)));
    TM_CK(tm_ckpt_put_attr_double(wr, "best", 0.987654321012345));
    TM_CK(tm_ckpt_put_attr_u32_array(wr, "rng", rng, 4));
    TM_CK(tm_ckpt_commit(wr));
    ck_assert(file_exists(path));
    ck_assert(!file_exists(tmp));

    tm_ckpt_reader *r = NULL;
    TM_CK(tm_ckpt_open(&r, path));
    ck_assert_int_eq(tm_ckpt_has_array(r, "image/conv1/weight"), 1);
    ck_assert_int_eq(tm_ckpt_has_array(r, "/image/conv1/bias"), 1);
    ck_assert_int_eq(tm_ckpt_has_array(r, "image/conv1"), 0); /* a group */
    ck_assert_int_eq(tm_ckpt_has_array(r, "image/conv2/weight"), 0);
    ck_assert_int_eq(tm_ckpt_has_array(r, "nope/deeper/x"), 0);
    float w2[36], b2[4];
    TM_CK(tm_ckpt_get_array(r, "image/conv1/weight", w2, 4, w_shape));
    TM_CK(tm_ckpt_get_array(r, "image/conv1/bias", b2, 1, b_shape));
    ck_assert_mem_eq(w2, w, sizeof w); /* bit-exact, sign of zero and subnormals included */
    ck_assert_mem_eq(b2, b, sizeof b);
    char *s = NULL;
    TM_CK(tm_ckpt_get_attr_string(r, "experiment", &s));
    ck_assert_uint_eq(strlen(s), big_n);
    ck_assert_str_eq(s, big);
    free(s);
    TM_CK(tm_ckpt_get_attr_string(r, "empty", &s));
    ck_assert_str_eq(s, "");
    free(s);
    long long iv = 0;
    TM_CK(tm_ckpt_get_attr_int(r, "epoch", &iv));
    ck_assert_int_eq(iv, 4);
    TM_CK(tm_ckpt_get_attr_int(r, "samples", &iv));
    ck_assert(iv == -(1LL << 40));
    double dv = 0;
    TM_CK(tm_ckpt_get_attr_double(r, "best", &dv));
    ck_assert(dv == 0.987654321012345);
    uint32_t rng2[4] = {0};
    TM_CK(tm_ckpt_get_attr_u32_array(r, "rng", rng2, 4));
    ck_assert_mem_eq(rng2, rng, sizeof rng);
    tm_ckpt_close(r);

    if (system("command -v h5dump >/dev/null 2>&1") == 0) {
        char cmd[4400];
        snprintf(cmd, sizeof cmd, "h5dump -H '%s' >/dev/null", path);
        ck_assert_msg(system(cmd) == 0, "h5dump -H could not read %s", path);
        /* h5dump sees the values too, not only the header. */
        snprintf(cmd, sizeof cmd, "h5dump -d /image/conv1/bias '%s' | grep -q '7.75'", path);
        ck_assert_msg(system(cmd) == 0, "h5dump does not show the bias values of %s", path);
    } else {
        fprintf(stderr, "h5dump not on PATH: external readability check skipped\n");
    }
    free(big);
    const char *names[] = {"a.h5"};
    no_hdf5_handles_left();
    remove_dir(dir, names, 1);
}
END_TEST

START_TEST(missing_names_and_mismatches_are_named)
{
    char *dir = tm_test_tmpdir("ckpt");
    char path[4200];
    tmp_path(path, sizeof path, dir, "b.h5");
    write_ckpt(path, 1);
    tm_ckpt_reader *r = NULL;
    TM_CK(tm_ckpt_open(&r, path));
    float buf[640];
    const char *e;

    ck_assert_int_eq(tm_ckpt_get_array(r, "audio/conv1/weight", buf, 4, w_shape), TM_ERR_FORMAT);
    e = tm_last_error();
    ck_assert_msg(strstr(e, path) && strstr(e, "audio/conv1/weight") && strstr(e, "4x1x3x3"), "%s", e);

    const int wrong[4] = {4, 3, 3, 1};
    ck_assert_int_eq(tm_ckpt_get_array(r, "image/conv1/weight", buf, 4, wrong), TM_ERR_FORMAT);
    e = tm_last_error();
    ck_assert_msg(strstr(e, path) && strstr(e, "image/conv1/weight") && strstr(e, "has shape 4x1x3x3") &&
                      strstr(e, "4x3x3x1"),
                  "%s", e);
    const int flat[1] = {36};
    ck_assert_int_eq(tm_ckpt_get_array(r, "image/conv1/weight", buf, 1, flat), TM_ERR_FORMAT);
    ck_assert_msg(strstr(tm_last_error(), "36"), "%s", tm_last_error());
    /* A group is not an array. */
    ck_assert_int_eq(tm_ckpt_get_array(r, "image/conv1", buf, 1, flat), TM_ERR_FORMAT);

    long long iv;
    double dv;
    char *s = NULL;
    uint32_t u[4];
    ck_assert_int_eq(tm_ckpt_get_attr_int(r, "epoch", &iv), TM_ERR_FORMAT);
    e = tm_last_error();
    ck_assert_msg(strstr(e, path) && strstr(e, "no attribute 'epoch'"), "%s", e);
    ck_assert_int_eq(tm_ckpt_get_attr_int(r, "experiment", &iv), TM_ERR_FORMAT);
    ck_assert_msg(strstr(tm_last_error(), "string"), "%s", tm_last_error());
    ck_assert_int_eq(tm_ckpt_get_attr_double(r, "version", &dv), TM_ERR_FORMAT);
    ck_assert_int_eq(tm_ckpt_get_attr_string(r, "version", &s), TM_ERR_FORMAT);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(tm_ckpt_get_attr_u32_array(r, "version", u, 4), TM_ERR_FORMAT);
    ck_assert_msg(strstr(tm_last_error(), "holds 1 values, expected 4"), "%s", tm_last_error());
    TM_CK(tm_ckpt_get_attr_int(r, "version", &iv));
    ck_assert_int_eq(iv, 1);
    tm_ckpt_close(r);
    const char *names[] = {"b.h5"};
    no_hdf5_handles_left();
    remove_dir(dir, names, 1);
}
END_TEST

static void copy_prefix(const char *from, const char *to, long n)
{
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    ck_assert(a && b);
    char buf[4096];
    long left = n;
    while (left > 0) {
        size_t got = fread(buf, 1, left < (long)sizeof buf ? (size_t)left : sizeof buf, a);
        if (got == 0)
            break;
        fwrite(buf, 1, got, b);
        left -= (long)got;
    }
    fclose(a);
    fclose(b);
}

START_TEST(damaged_and_foreign_files_are_rejected)
{
    char *dir = tm_test_tmpdir("ckpt");
    char path[4200], cut[4200], text[4200], missing[4200];
    tmp_path(path, sizeof path, dir, "c.h5");
    tmp_path(cut, sizeof cut, dir, "cut.h5");
    tmp_path(text, sizeof text, dir, "notes.txt");
    tmp_path(missing, sizeof missing, dir, "missing.h5");
    write_ckpt(path, 1);
    tm_ckpt_reader *r = NULL;

    ck_assert_int_eq(tm_ckpt_open(&r, missing), TM_ERR_IO);
    ck_assert_ptr_null(r);
    ck_assert_msg(strstr(tm_last_error(), missing) && strstr(tm_last_error(), "No such file"), "%s",
                  tm_last_error());
    ck_assert_int_eq(tm_ckpt_open(&r, dir), TM_ERR_IO);

    FILE *f = fopen(text, "w");
    fputs("epoch = 3\nthis is not a checkpoint\n", f);
    fclose(f);
    ck_assert_int_eq(tm_ckpt_open(&r, text), TM_ERR_FORMAT);
    ck_assert_msg(strstr(tm_last_error(), text) && strstr(tm_last_error(), "not an HDF5 file"), "%s",
                  tm_last_error());

    /* Every truncation point, from inside the superblock to one byte short. */
    long size = file_size(path);
    ck_assert_int_gt(size, 3000);
    const long cuts[] = {0, 8, 100, 600, size / 4, size / 2, size - 100, size - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        copy_prefix(path, cut, cuts[i]);
        tm_status s = tm_ckpt_open(&r, cut);
        ck_assert_msg(s == TM_ERR_FORMAT, "truncated to %ld of %ld bytes: %s (%s)", cuts[i], size,
                      tm_status_name(s), tm_last_error());
        ck_assert_ptr_null(r);
        ck_assert_msg(strstr(tm_last_error(), cut), "%s", tm_last_error());
    }
    copy_prefix(path, cut, size / 2);
    ck_assert_int_eq(tm_ckpt_open(&r, cut), TM_ERR_FORMAT);
    ck_assert_msg(strstr(tm_last_error(), "truncated"), "%s", tm_last_error());
    const char *names[] = {"c.h5", "cut.h5", "notes.txt"};
    no_hdf5_handles_left();
    remove_dir(dir, names, 3);
}
END_TEST

START_TEST(data_corruption_is_detected)
{
    char *dir = tm_test_tmpdir("ckpt");
    char path[4200];
    tmp_path(path, sizeof path, dir, "d.h5");
    write_ckpt(path, 1);
    /* Flip one byte inside the run of MARK values of fusion/dense/weight. */
    FILE *f = fopen(path, "r+b");
    ck_assert_ptr_nonnull(f);
    long size = file_size(path);
    ck_assert_int_gt(size, 0);
    size_t nbytes = size > 0 ? (size_t)size : 1;
    unsigned char *bytes = malloc(nbytes);
    ck_assert_uint_eq(fread(bytes, 1, nbytes, f), nbytes);
    float mark = MARK;
    long at = -1;
    for (long i = 0; i + 8 <= size && at < 0; i++)
        if (!memcmp(bytes + i, &mark, 4) && !memcmp(bytes + i + 4, &mark, 4))
            at = i;
    ck_assert_int_ge(at, 0);
    fseek(f, at + 400, SEEK_SET);
    fputc(bytes[at + 400] ^ 0x10, f);
    fclose(f);
    free(bytes);

    tm_ckpt_reader *r = NULL;
    TM_CK(tm_ckpt_open(&r, path));
    float d[640], b[4];
    TM_CK(tm_ckpt_get_array(r, "image/conv1/bias", b, 1, b_shape)); /* untouched array */
    ck_assert_int_eq(tm_ckpt_get_array(r, "fusion/dense/weight", d, 2, d_shape), TM_ERR_FORMAT);
    ck_assert_msg(strstr(tm_last_error(), "fusion/dense/weight") && strstr(tm_last_error(), path),
                  "%s", tm_last_error());
    tm_ckpt_close(r);
    const char *names[] = {"d.h5"};
    no_hdf5_handles_left();
    remove_dir(dir, names, 1);
}
END_TEST

/* Every single-byte corruption either fails with a message or reads back the
 * exact values: never a crash, never silent garbage. */
START_TEST(single_byte_corruptions_never_load_garbage)
{
    char *dir = tm_test_tmpdir("ckpt");
    char path[4200], bad[4200];
    tmp_path(path, sizeof path, dir, "f.h5");
    tmp_path(bad, sizeof bad, dir, "bad.h5");
    write_ckpt(path, 7);
    long size = file_size(path);
    ck_assert_int_gt(size, 0);
    size_t n = size > 0 ? (size_t)size : 1;
    unsigned char *bytes = malloc(n);
    FILE *f = fopen(path, "rb");
    ck_assert_uint_eq(fread(bytes, 1, n, f), n);
    fclose(f);
    float w0[36], b0[4];
    fill(w0, 36, -3.0f);
    fill(b0, 4, 7.0f);
    int loaded = 0, rejected = 0;
    for (size_t i = 0; i < n; i++) {
        bytes[i] ^= 0xff;
        f = fopen(bad, "wb");
        ck_assert_uint_eq(fwrite(bytes, 1, n, f), n);
        fclose(f);
        bytes[i] ^= 0xff;
        tm_ckpt_reader *r = NULL;
        if (tm_ckpt_open(&r, bad) != TM_OK) {
            ck_assert_ptr_nonnull(strstr(tm_last_error(), bad));
            rejected++;
            continue;
        }
        float w[36], b[4], d[640];
        long long v = 0;
        char *s = NULL;
        tm_status st = tm_ckpt_get_array(r, "image/conv1/weight", w, 4, w_shape);
        if (st == TM_OK)
            st = tm_ckpt_get_array(r, "image/conv1/bias", b, 1, b_shape);
        if (st == TM_OK)
            st = tm_ckpt_get_array(r, "fusion/dense/weight", d, 2, d_shape);
        if (st == TM_OK)
            st = tm_ckpt_get_attr_int(r, "version", &v);
        if (st == TM_OK)
            st = tm_ckpt_get_attr_string(r, "experiment", &s);
        tm_ckpt_close(r);
        if (st != TM_OK) {
            ck_assert_msg(st == TM_ERR_FORMAT, "byte %zu: %s: %s", i, tm_status_name(st),
                          tm_last_error());
            rejected++;
            continue;
        }
        loaded++;
        ck_assert_msg(!memcmp(w, w0, sizeof w) && !memcmp(b, b0, sizeof b) && v == 7 &&
                          !strcmp(s, "[train]\nepochs = 20\n"),
                      "byte %zu flipped: wrong values loaded without an error", i);
        for (int j = 0; j < 640; j++)
            ck_assert_msg(d[j] == MARK, "byte %zu flipped: dense weight %d is %g", i, j, (double)d[j]);
        free(s);
    }
    /* Unused space exists in HDF5 files, so some flips are harmless; most are caught. */
    ck_assert_int_gt(rejected, (int)(n / 3));
    ck_assert_int_gt(loaded, 0);
    free(bytes);
    const char *names[] = {"f.h5", "bad.h5"};
    no_hdf5_handles_left();
    remove_dir(dir, names, 2);
}
END_TEST

START_TEST(commit_is_atomic)
{
    char *dir = tm_test_tmpdir("ckpt");
    char path[4200], tmp[4300];
    tmp_path(path, sizeof path, dir, "e.h5");
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    float b[4] = {1, 2, 3, 4};

    /* Abort with nothing at path: nothing is left behind. */
    tm_ckpt_writer *w = NULL;
    TM_CK(tm_ckpt_create(&w, path));
    TM_CK(tm_ckpt_put_array(w, "x", b, 1, b_shape));
    tm_ckpt_abort(w);
    ck_assert(!file_exists(path));
    ck_assert(!file_exists(tmp));
    tm_ckpt_abort(NULL);

    /* An existing checkpoint survives an aborted rewrite and is only replaced on commit. */
    write_ckpt(path, 1);
    TM_CK(tm_ckpt_create(&w, path));
    TM_CK(tm_ckpt_put_attr_int(w, "version", 2));
    tm_ckpt_reader *r = NULL;
    long long v = 0;
    TM_CK(tm_ckpt_open(&r, path)); /* readable while a rewrite is in progress */
    TM_CK(tm_ckpt_get_attr_int(r, "version", &v));
    ck_assert_int_eq(v, 1);
    tm_ckpt_close(r);
    tm_ckpt_abort(w);
    ck_assert(!file_exists(tmp));
    TM_CK(tm_ckpt_open(&r, path));
    TM_CK(tm_ckpt_get_attr_int(r, "version", &v));
    ck_assert_int_eq(v, 1);
    ck_assert_int_eq(tm_ckpt_has_array(r, "image/conv1/bias"), 1);
    tm_ckpt_close(r);

    write_ckpt(path, 2);
    ck_assert(!file_exists(tmp));
    TM_CK(tm_ckpt_open(&r, path));
    TM_CK(tm_ckpt_get_attr_int(r, "version", &v));
    ck_assert_int_eq(v, 2);
    tm_ckpt_close(r);

    /* A directory that does not exist cannot hold the temporary file. */
    char bad[4300];
    snprintf(bad, sizeof bad, "%s/no/such/dir/f.h5", dir);
    ck_assert_int_eq(tm_ckpt_create(&w, bad), TM_ERR_IO);
    ck_assert_ptr_null(w);
    ck_assert_msg(strstr(tm_last_error(), bad), "%s", tm_last_error());
    const char *names[] = {"e.h5"};
    no_hdf5_handles_left();
    remove_dir(dir, names, 1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("checkpoint");
    TCase *tc = tcase_create("checkpoint");
    tcase_add_test(tc, round_trip_of_arrays_and_attributes);
    tcase_add_test(tc, missing_names_and_mismatches_are_named);
    tcase_add_test(tc, damaged_and_foreign_files_are_rejected);
    tcase_add_test(tc, data_corruption_is_detected);
    tcase_add_test(tc, single_byte_corruptions_never_load_garbage);
    tcase_add_test(tc, commit_is_atomic);
    suite_add_tcase(s, tc);
    return tm_test_run(s);
}
