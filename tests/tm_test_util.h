/* Shared helpers for the Check test programs. */
#ifndef TM_TEST_UTIL_H
#define TM_TEST_UTIL_H

#include <check.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "tm_rng.h"
#include "tm_status.h"
#include "tm_tensor.h"

/* TINYM2NET_DATA (the shared data folder), or NULL when unset. */
const char *tm_test_data_dir(void);
/* Root of the source tree (TM_SOURCE_DIR, set by ctest), or "." */
const char *tm_test_source_dir(void);
/* "<TM_BUILD_DIR>/<prog>" into buf and 1; or, outside ctest (no
 * TM_BUILD_DIR), a "skip" line on stdout and 0. */
int tm_test_build_exe(char *buf, size_t n, const char *prog);
/* The same for a test of mpirun runs: 0 (and why, printed) also when the
 * build has no MPI or mpirun is missing. */
int tm_test_mpi_exe(char *buf, size_t n, const char *prog);
/* Fresh empty directory under $TMPDIR; the caller frees the string. */
char *tm_test_tmpdir(const char *tag);
/* Heap tensor filled with uniform values in [lo, hi). */
tm_tensor *tm_test_tensor(tm_rng *r, int ndim, const int *shape, float lo, float hi,
                          int requires_grad);
/* Runs a shell command, captures its standard output (n - 1 bytes at most,
 * NUL-terminated) and returns its exit status (255 when it did not exit). */
int tm_test_run_cmd(const char *cmd, char *out, size_t n);
/* Runs the program exe with the printf-formatted arguments, its stdout and
 * stderr into out (as tm_test_run_cmd); the exit status. */
int tm_test_run_exe(const char *exe, char *out, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A whole file, NUL-terminated, in 4-byte aligned storage (model files are
 * read in place); *n gets its size. The caller frees. */
char *tm_test_slurp(const char *path, size_t *n);
/* JSON text (a program's output) or a JSON file parsed by jansson; fails
 * the test when it does not parse. The caller json_decref's. */
json_t *tm_test_json(const char *text);
json_t *tm_test_json_file(const char *path);
/* obj[key] (obj an object); fails the test when it is absent or (for the
 * number) not a number. */
json_t *tm_test_json_get(const json_t *obj, const char *key);
double tm_test_json_num(const json_t *obj, const char *key);
/* An 8-bit grey PNG of w x h pixels. */
void tm_test_write_png(const char *path, const uint8_t *px, int w, int h);
/* A mono 16-bit PCM WAV. */
void tm_test_write_wav(const char *path, const short *pcm, int n, int rate);

/* Checks a logits CSV (a header line, then "r,l0,l1,..." per row, as
 * tinym2net-run --logits writes it) against want: rows x k, row stride
 * stride values. Fails the test naming the first row that differs. */
void tm_test_expect_logits_csv(const char *path, const int8_t *want, int rows, int k, int stride);

/* Runs the suite with Check's default runner; exit status for main(). */
int tm_test_run(Suite *s);

/* Fails the test with the library's message when a call is not TM_OK. */
#define TM_CK(expr)                                                                     \
    do {                                                                                \
        tm_status ck_s_ = (expr);                                                       \
        ck_assert_msg(ck_s_ == TM_OK, "%s -> %s: %s", #expr, tm_status_name(ck_s_),     \
                      tm_last_error());                                                 \
    } while (0)

#endif
