#include "tm_test_util.h"

#include "tm_ranks.h"

#include <png.h>
#include <setjmp.h>
#include <stdarg.h>
#include <sndfile.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

const char *tm_test_data_dir(void)
{
    const char *d = getenv("TINYM2NET_DATA");
    return d && *d ? d : NULL;
}

const char *tm_test_source_dir(void)
{
    const char *d = getenv("TM_SOURCE_DIR");
    return d && *d ? d : ".";
}

int tm_test_build_exe(char *buf, size_t n, const char *prog)
{
    const char *b = getenv("TM_BUILD_DIR");
    if (!b || !*b) {
        printf("skip: TM_BUILD_DIR not set (run through ctest)\n");
        return 0;
    }
    snprintf(buf, n, "%s/%s", b, prog);
    return 1;
}

int tm_test_mpi_exe(char *buf, size_t n, const char *prog)
{
    if (!tm_ranks_have_mpi()) {
        printf("skip: this build has no MPI (TM_WITH_MPI=OFF)\n");
        return 0;
    }
    if (system("command -v mpirun >/dev/null 2>&1") != 0) {
        printf("skip: mpirun not found (apt-get install openmpi-bin)\n");
        return 0;
    }
    return tm_test_build_exe(buf, n, prog);
}

char *tm_test_tmpdir(const char *tag)
{
    const char *base = getenv("TMPDIR");
    char buf[4096];
    snprintf(buf, sizeof buf, "%s/tm-%s-XXXXXX", base && *base ? base : "/tmp", tag);
    char *d = mkdtemp(buf);
    return d ? strdup(d) : NULL;
}

tm_tensor *tm_test_tensor(tm_rng *r, int ndim, const int *shape, float lo, float hi,
                          int requires_grad)
{
    tm_tensor *t = NULL;
    if (tm_tensor_new(&t, ndim, shape, requires_grad) != TM_OK)
        return NULL;
    for (size_t i = 0; i < t->size; i++)
        t->data[i] = lo + (hi - lo) * tm_rng_uniform(r);
    return t;
}

int tm_test_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

void tm_test_expect_logits_csv(const char *path, const int8_t *want, int rows, int k, int stride)
{
    size_t n = 0;
    char *text = tm_test_slurp(path, &n), *p = text ? strchr(text, '\n') : NULL;
    ck_assert_msg(p != NULL, "%s: no header line", path);
    for (int i = 0; i < rows; i++) {
        char line[512];
        int at = snprintf(line, sizeof line, "%d", i);
        for (int c = 0; c < k; c++)
            at += snprintf(line + at, sizeof line - (size_t)at, ",%d", want[i * stride + c]);
        ck_assert_msg(p && !strncmp(p + 1, line, (size_t)at) && p[1 + at] == '\n',
                      "%s row %d: want %s, got %.80s", path, i, line, p ? p + 1 : "(end)");
        p = strchr(p + 1, '\n');
    }
    free(text);
}

int tm_test_run_exe(const char *exe, char *out, size_t n, const char *fmt, ...)
{
    char args[16384], cmd[sizeof args + 4200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "'%s' %s 2>&1", exe, args);
    return tm_test_run_cmd(cmd, out, n);
}

int tm_test_run_cmd(const char *cmd, char *out, size_t n)
{
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t got = fread(out, 1, n - 1, p);
    out[got] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 255;
}

json_t *tm_test_json(const char *text)
{
    json_error_t err;
    json_t *doc = json_loads(text, 0, &err);
    ck_assert_msg(doc != NULL, "not JSON (line %d: %s):\n%.2000s", err.line, err.text, text);
    return doc;
}

json_t *tm_test_json_file(const char *path)
{
    json_error_t err;
    json_t *doc = json_load_file(path, 0, &err);
    ck_assert_msg(doc != NULL, "%s: not JSON (line %d: %s)", path, err.line, err.text);
    return doc;
}

json_t *tm_test_json_get(const json_t *obj, const char *key)
{
    json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
    ck_assert_msg(v != NULL, "no member %s", key);
    return v;
}

double tm_test_json_num(const json_t *obj, const char *key)
{
    json_t *v = tm_test_json_get(obj, key);
    ck_assert_msg(json_is_number(v), "%s is not a number", key);
    return json_number_value(v);
}

char *tm_test_slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "%s missing", path);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint32_t *b = malloc((*n + 4) / 4 * 4 + 4);
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(fread(b, 1, *n, f), *n);
    ((char *)b)[*n] = '\0';
    fclose(f);
    return (char *)b;
}

void tm_test_write_png(const char *path, const uint8_t *px, int w, int h)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    png_structp p = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(p);
    ck_assert(p && info);
    ck_assert_int_eq(setjmp(png_jmpbuf(p)), 0);
    png_init_io(p, f);
    png_set_IHDR(p, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_GRAY,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(p, info);
    for (int y = 0; y < h; y++)
        png_write_row(p, (png_const_bytep)(px + (size_t)y * w));
    png_write_end(p, NULL);
    png_destroy_write_struct(&p, &info);
    ck_assert_int_eq(fclose(f), 0);
}

void tm_test_write_wav(const char *path, const short *pcm, int n, int rate)
{
    SF_INFO info;
    memset(&info, 0, sizeof info);
    info.samplerate = rate;
    info.channels = 1;
    info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
    SNDFILE *f = sf_open(path, SFM_WRITE, &info);
    ck_assert_msg(f != NULL, "%s: %s", path, sf_strerror(NULL));
    ck_assert_int_eq(sf_write_short(f, pcm, n), n);
    ck_assert_int_eq(sf_close(f), 0);
}
