/* Audio and image decoding: real files from the shared data folder and
 * files written here with libsndfile and libpng, good and broken. */
#include <dirent.h>
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <sndfile.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tm_audio.h"
#include "tm_image.h"
#include "tm_test_util.h"

#define PI 3.14159265358979323846

/* ---- helpers ---------------------------------------------------------- */

static char *tmp_path(char *buf, size_t n, const char *dir, const char *name)
{
    snprintf(buf, n, "%s/%s", dir, name);
    return buf;
}

/* Removes a flat temporary directory and frees its name. */
static void tmp_cleanup(char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        char p[4096];
        while ((e = readdir(d)) != NULL)
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
                unlink(tmp_path(p, sizeof p, dir, e->d_name));
        closedir(d);
    }
    rmdir(dir);
    free(dir);
}

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    if (n)
        ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    fclose(f);
}

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)len + 1);
    ck_assert_uint_eq(fread(b, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return b;
}

/* Writes frames x channels interleaved floats with libsndfile. */
static void write_audio(const char *path, int format, int rate, int channels, const float *x,
                        long frames)
{
    SF_INFO si;
    memset(&si, 0, sizeof si);
    si.samplerate = rate;
    si.channels = channels;
    si.format = format;
    SNDFILE *sf = sf_open(path, SFM_WRITE, &si);
    ck_assert_msg(sf != NULL, "cannot write %s: %s", path, sf_strerror(NULL));
    ck_assert_int_eq(sf_writef_float(sf, x, frames), frames);
    sf_close(sf);
}

static double rms(const float *x, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)x[i] * x[i];
    return sqrt(s / (double)n);
}

static void expect_error(tm_status got, tm_status want, const char *path, const char *words)
{
    ck_assert_msg(got == want, "%s: got %s, want %s (%s)", path, tm_status_name(got),
                  tm_status_name(want), tm_last_error());
    ck_assert_msg(strstr(tm_last_error(), path) != NULL, "message lacks the path: %s",
                  tm_last_error());
    if (words)
        ck_assert_msg(strstr(tm_last_error(), words) != NULL, "message lacks '%s': %s", words,
                      tm_last_error());
}

/* ---- audio ------------------------------------------------------------ */

START_TEST(audio_real_avdigits_wav)
{
    const char *root = tm_test_data_dir();
    if (!root) {
        printf("audio_real_avdigits_wav: TINYM2NET_DATA unset, skipped\n");
        return;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/avdigits/audio/3_lucas_42.wav", root);
    float *x = NULL;
    size_t n = 0;
    tm_audio_info info;
    TM_CK(tm_audio_read_all(path, &x, &n, &info));
    ck_assert_int_eq(info.rate, 8000);
    ck_assert_int_eq(info.channels, 1);
    ck_assert_int_eq(info.frames, 4061); /* (8166 - 44 header bytes) / 2 */
    ck_assert_uint_eq(n, 4061);
    ck_assert_double_gt(rms(x, n), 0.005);

    float out[8000];
    TM_CK(tm_audio_load(path, 8000, 8000, TM_AUDIO_FIT_START, out, NULL));
    for (size_t i = 0; i < n; i++)
        ck_assert_float_eq(out[i], x[i]);
    for (size_t i = n; i < 8000; i++)
        ck_assert_float_eq(out[i], 0.0f);
    free(x);
}
END_TEST

START_TEST(audio_coswara_48k_resampled_to_8k)
{
    const char *root = tm_test_data_dir();
    if (!root) {
        printf("audio_coswara_48k_resampled_to_8k: TINYM2NET_DATA unset, skipped\n");
        return;
    }
    char path[4096];
    snprintf(path, sizeof path,
             "%s/coswara-sample/Extracted_data/20200413/0Rlzhiz6bybk77wdLjxwy7yLDhg1/vowel-a.wav",
             root);
    float *x = NULL, *y = NULL;
    size_t n = 0, ny = 0;
    tm_audio_info info;
    TM_CK(tm_audio_read_all(path, &x, &n, &info));
    ck_assert_int_eq(info.rate, 48000);
    TM_CK(tm_audio_resample(x, n, 48000, 8000, &y, &ny));
    ck_assert_uint_eq(ny, (n + 3) / 6);

    /* A vowel's energy lies well below 4 kHz, so the level survives. */
    double r0 = rms(x, n), r1 = rms(y, ny);
    ck_assert_double_gt(r0, 0.001);
    ck_assert_double_gt(r1 / r0, 0.85);
    ck_assert_double_lt(r1 / r0, 1.05);

    float *out = malloc(ny * sizeof *out);
    TM_CK(tm_audio_load(path, 8000, (int)ny, TM_AUDIO_FIT_START, out, &info));
    ck_assert_int_eq(info.rate, 48000);
    ck_assert_int_eq(info.frames, (long long)n);
    for (size_t i = 0; i < ny; i++)
        ck_assert_float_eq(out[i], y[i]);
    free(out);
    free(x);
    free(y);
}
END_TEST

START_TEST(audio_resampled_sine_matches)
{
    /* 1 s of 440 Hz at 48 kHz -> 8 kHz must still be that sine, in phase. */
    int n = 48000;
    float *x = malloc(sizeof *x * n);
    for (int i = 0; i < n; i++)
        x[i] = (float)(0.5 * sin(2 * PI * 440.0 * i / 48000.0));
    float *y = NULL;
    size_t ny = 0;
    TM_CK(tm_audio_resample(x, (size_t)n, 48000, 8000, &y, &ny));
    ck_assert_uint_eq(ny, 8000);
    double err = 0;
    for (int i = 200; i < 7800; i++)
        err = fmax(err, fabs(y[i] - 0.5 * sin(2 * PI * 440.0 * i / 8000.0)));
    ck_assert_double_lt(err, 2e-3);
    free(y);
    /* Upsampling 8 kHz -> 16 kHz too. */
    TM_CK(tm_audio_resample(x, 8000, 8000, 16000, &y, &ny));
    ck_assert_uint_eq(ny, 16000);
    free(y);
    ck_assert_int_eq(tm_audio_resample(x, 10, 8000, 0, &y, &ny), TM_ERR_ARG);
    ck_assert_ptr_null(y);
    free(x);
}
END_TEST

START_TEST(audio_stereo_mixes_down_to_mean)
{
    char *dir = tm_test_tmpdir("decode");
    char path[4096];
    tmp_path(path, sizeof path, dir, "stereo.wav");
    int n = 1000;
    float *x = malloc(sizeof *x * 2 * n);
    for (int i = 0; i < n; i++) {
        x[2 * i] = (float)(0.8 * sin(2 * PI * 300.0 * i / 8000.0)); /* left: sine */
        x[2 * i + 1] = 0.2f;                                       /* right: DC */
    }
    write_audio(path, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 8000, 2, x, n);
    float out[1000];
    tm_audio_info info;
    TM_CK(tm_audio_load(path, 8000, n, TM_AUDIO_FIT_START, out, &info));
    ck_assert_int_eq(info.channels, 2);
    ck_assert_int_eq(info.frames, n);
    for (int i = 0; i < n; i++)
        ck_assert_float_eq_tol(out[i], 0.5f * (x[2 * i] + x[2 * i + 1]), 1e-7f);
    /* Left = s, right = -s cancels exactly. */
    for (int i = 0; i < n; i++)
        x[2 * i + 1] = -x[2 * i];
    write_audio(path, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 8000, 2, x, n);
    TM_CK(tm_audio_load(path, 8000, n, TM_AUDIO_FIT_START, out, NULL));
    ck_assert_double_lt(rms(out, (size_t)n), 1e-4);
    free(x);
    tmp_cleanup(dir);
}
END_TEST

START_TEST(audio_pad_and_cut_rules)
{
    char *dir = tm_test_tmpdir("decode");
    char path[4096];
    tmp_path(path, sizeof path, dir, "ramp.wav");
    float x[10];
    for (int i = 0; i < 10; i++)
        x[i] = (float)(i + 1) / 100.0f;
    write_audio(path, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 16000, 1, x, 10);
    float out[16];
    /* START: the first samples, zeros after. */
    TM_CK(tm_audio_load(path, 16000, 6, TM_AUDIO_FIT_START, out, NULL));
    for (int i = 0; i < 6; i++)
        ck_assert_float_eq(out[i], x[i]);
    TM_CK(tm_audio_load(path, 16000, 15, TM_AUDIO_FIT_START, out, NULL));
    for (int i = 0; i < 15; i++)
        ck_assert_float_eq(out[i], i < 10 ? x[i] : 0.0f);
    /* CENTER cut: surplus 4 -> 2 off each side. */
    TM_CK(tm_audio_load(path, 16000, 6, TM_AUDIO_FIT_CENTER, out, NULL));
    for (int i = 0; i < 6; i++)
        ck_assert_float_eq(out[i], x[i + 2]);
    /* CENTER cut with an odd surplus 3: 1 off the start, 2 off the end. */
    TM_CK(tm_audio_load(path, 16000, 7, TM_AUDIO_FIT_CENTER, out, NULL));
    for (int i = 0; i < 7; i++)
        ck_assert_float_eq(out[i], x[i + 1]);
    /* CENTER pad 5: 2 zeros before, 3 after. */
    TM_CK(tm_audio_load(path, 16000, 15, TM_AUDIO_FIT_CENTER, out, NULL));
    for (int i = 0; i < 15; i++)
        ck_assert_float_eq(out[i], i >= 2 && i < 12 ? x[i - 2] : 0.0f);
    /* Exact length is a copy under both rules. */
    TM_CK(tm_audio_load(path, 16000, 10, TM_AUDIO_FIT_CENTER, out, NULL));
    for (int i = 0; i < 10; i++)
        ck_assert_float_eq(out[i], x[i]);
    ck_assert_int_eq(tm_audio_load(path, 16000, 10, (tm_audio_fit)7, out, NULL), TM_ERR_ARG);
    tmp_cleanup(dir);
}
END_TEST

START_TEST(audio_flac_round_trip)
{
    SF_INFO probe = {.samplerate = 8000, .channels = 1, .format = SF_FORMAT_FLAC | SF_FORMAT_PCM_16};
    if (!sf_format_check(&probe)) {
        printf("audio_flac_round_trip: this libsndfile has no FLAC, skipped\n");
        return;
    }
    char *dir = tm_test_tmpdir("decode");
    char path[4096];
    tmp_path(path, sizeof path, dir, "tone.flac");
    float x[4000];
    for (int i = 0; i < 4000; i++)
        x[i] = (float)(0.5 * sin(2 * PI * 500.0 * i / 8000.0));
    write_audio(path, SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 8000, 1, x, 4000);
    float out[4000];
    TM_CK(tm_audio_load(path, 8000, 4000, TM_AUDIO_FIT_START, out, NULL));
    for (int i = 0; i < 4000; i++)
        ck_assert_float_eq_tol(out[i], x[i], 1e-4f);
    tmp_cleanup(dir);
}
END_TEST

START_TEST(audio_bad_inputs_name_the_file)
{
    char *dir = tm_test_tmpdir("decode");
    char path[4096];
    float out[100];

    tmp_path(path, sizeof path, dir, "missing.wav");
    expect_error(tm_audio_load(path, 8000, 100, TM_AUDIO_FIT_START, out, NULL), TM_ERR_IO, path,
                 "No such file");

    tmp_path(path, sizeof path, dir, "empty.wav");
    write_bytes(path, "", 0);
    expect_error(tm_audio_load(path, 8000, 100, TM_AUDIO_FIT_START, out, NULL), TM_ERR_FORMAT,
                 path, "empty");

    tmp_path(path, sizeof path, dir, "random.wav");
    unsigned char junk[777];
    tm_rng r;
    tm_rng_seed(&r, 5);
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (unsigned char)tm_rng_u32(&r);
    write_bytes(path, junk, sizeof junk);
    expect_error(tm_audio_load(path, 8000, 100, TM_AUDIO_FIT_START, out, NULL), TM_ERR_FORMAT,
                 path, NULL);

    /* A real WAV cut after its 44-byte header, then cut inside the data. */
    float x[1000];
    for (int i = 0; i < 1000; i++)
        x[i] = (float)(0.3 * sin(i * 0.1));
    tmp_path(path, sizeof path, dir, "full.wav");
    write_audio(path, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 8000, 1, x, 1000);
    size_t len = 0;
    unsigned char *wav = slurp(path, &len);
    ck_assert_uint_eq(len, 44 + 2000);
    tmp_path(path, sizeof path, dir, "header-only.wav");
    write_bytes(path, wav, 44);
    expect_error(tm_audio_load(path, 8000, 100, TM_AUDIO_FIT_START, out, NULL), TM_ERR_FORMAT,
                 path, "truncated");
    tmp_path(path, sizeof path, dir, "half.wav");
    write_bytes(path, wav, 44 + 1000);
    expect_error(tm_audio_load(path, 8000, 100, TM_AUDIO_FIT_START, out, NULL), TM_ERR_FORMAT,
                 path, "truncated");
    tmp_path(path, sizeof path, dir, "half-header.wav");
    write_bytes(path, wav, 30);
    expect_error(tm_audio_load(path, 8000, 100, TM_AUDIO_FIT_START, out, NULL), TM_ERR_FORMAT,
                 path, NULL);
    free(wav);

    /* A well-formed WAV with no samples. */
    tmp_path(path, sizeof path, dir, "zero-frames.wav");
    write_audio(path, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 8000, 1, x, 0);
    expect_error(tm_audio_load(path, 8000, 100, TM_AUDIO_FIT_START, out, NULL), TM_ERR_FORMAT,
                 path, "no audio samples");

    /* Float samples that are not numbers. */
    x[17] = NAN;
    tmp_path(path, sizeof path, dir, "nan.wav");
    write_audio(path, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 8000, 1, x, 100);
    expect_error(tm_audio_load(path, 8000, 100, TM_AUDIO_FIT_START, out, NULL), TM_ERR_FORMAT,
                 path, "sample 17 is NaN");
    x[17] = INFINITY;
    write_audio(path, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 8000, 1, x, 100);
    expect_error(tm_audio_load(path, 8000, 100, TM_AUDIO_FIT_START, out, NULL), TM_ERR_FORMAT,
                 path, "infinite");
    for (int i = 0; i < 100; i++)
        ck_assert_float_eq(out[i], 0.0f);

    expect_error(tm_audio_load(dir, 8000, 100, TM_AUDIO_FIT_START, out, NULL), TM_ERR_IO, dir,
                 "directory");
    tmp_cleanup(dir);
}
END_TEST

/* ---- images ----------------------------------------------------------- */

/* Writes a PNG with libpng: rows are packed as the colour type and bit
 * depth require (16-bit big-endian). */
static void write_png(const char *path, int w, int h, int color_type, int depth, int interlace,
                      const unsigned char *data, const png_color *pal, int npal,
                      const unsigned char *trans, int ntrans)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) {
        fclose(f);
        ck_abort_msg("libpng failed to write %s", path);
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, color_type,
                 interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (pal)
        png_set_PLTE(png, info, pal, npal);
    if (trans)
        png_set_tRNS(png, info, trans, ntrans, NULL);
    png_write_info(png, info);
    int ch = color_type == PNG_COLOR_TYPE_GRAY || color_type == PNG_COLOR_TYPE_PALETTE ? 1
             : color_type == PNG_COLOR_TYPE_GRAY_ALPHA                                  ? 2
             : color_type == PNG_COLOR_TYPE_RGB                                         ? 3
                                                                                        : 4;
    size_t rowbytes = ((size_t)w * ch * depth + 7) / 8;
    png_bytep *rows = malloc(sizeof *rows * h);
    for (int y = 0; y < h; y++)
        rows[y] = (png_bytep)data + (size_t)y * rowbytes;
    png_write_image(png, rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(rows);
    fclose(f);
}

START_TEST(image_real_mnist_png)
{
    const char *root = tm_test_data_dir();
    if (!root) {
        printf("image_real_mnist_png: TINYM2NET_DATA unset, skipped\n");
        return;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/avdigits/images/3/3_0699.png", root);
    float img[28 * 28];
    TM_CK(tm_image_load(path, 1, 28, 28, img));
    double mean = 0, mx = 0;
    int zeros = 0;
    for (int i = 0; i < 28 * 28; i++) {
        ck_assert(img[i] >= 0.0f && img[i] <= 1.0f);
        ck_assert_float_eq(img[i] * 255.0f, roundf(img[i] * 255.0f)); /* k / 255 exactly */
        mean += img[i];
        mx = fmax(mx, img[i]);
        zeros += img[i] == 0.0f;
    }
    mean /= 28 * 28;
    ck_assert_double_gt(mean, 0.04); /* MNIST's mean is about 0.13 */
    ck_assert_double_lt(mean, 0.35);
    ck_assert_double_gt(mx, 0.9);
    ck_assert_int_gt(zeros, 28 * 28 / 2); /* black background */
    for (int x = 0; x < 28; x++)         /* and black borders */
        ck_assert_float_eq(img[x], 0.0f);

    /* Three channels of a grey file are three equal planes. */
    float rgb[3 * 28 * 28];
    TM_CK(tm_image_load(path, 3, 28, 28, rgb));
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < 28 * 28; i++)
            ck_assert_float_eq(rgb[c * 28 * 28 + i], img[i]);

    /* 28 -> 14 by area averaging is the mean of each 2x2 block. */
    float half[14 * 14];
    TM_CK(tm_image_load(path, 1, 14, 14, half));
    for (int y = 0; y < 14; y++)
        for (int x = 0; x < 14; x++) {
            float want = (img[(2 * y) * 28 + 2 * x] + img[(2 * y) * 28 + 2 * x + 1] +
                          img[(2 * y + 1) * 28 + 2 * x] + img[(2 * y + 1) * 28 + 2 * x + 1]) /
                         4;
            ck_assert_float_eq_tol(half[y * 14 + x], want, 1e-6f);
        }
}
END_TEST

START_TEST(image_png_colour_types)
{
    char *dir = tm_test_tmpdir("decode");
    char path[4096];
    const int w = 3, h = 2;
    float out[3 * 6];

    /* 8-bit grey. */
    unsigned char grey[6] = {0, 51, 102, 153, 204, 255};
    tmp_path(path, sizeof path, dir, "grey8.png");
    write_png(path, w, h, PNG_COLOR_TYPE_GRAY, 8, 0, grey, NULL, 0, NULL, 0);
    TM_CK(tm_image_load(path, 1, h, w, out));
    for (int i = 0; i < 6; i++)
        ck_assert_float_eq_tol(out[i], grey[i] / 255.0f, 1e-7f);

    /* 16-bit grey keeps its precision. */
    unsigned short g16[6] = {0, 1, 257, 32768, 65534, 65535};
    unsigned char be[12];
    for (int i = 0; i < 6; i++) {
        be[2 * i] = (unsigned char)(g16[i] >> 8);
        be[2 * i + 1] = (unsigned char)(g16[i] & 255);
    }
    tmp_path(path, sizeof path, dir, "grey16.png");
    write_png(path, w, h, PNG_COLOR_TYPE_GRAY, 16, 0, be, NULL, 0, NULL, 0);
    TM_CK(tm_image_load(path, 1, h, w, out));
    for (int i = 0; i < 6; i++)
        ck_assert_float_eq_tol(out[i], g16[i] / 65535.0f, 1e-7f);
    ck_assert_float_gt(out[1], 0.0f);

    /* 1-bit grey: 0 and 1 become 0.0 and 1.0. */
    unsigned char bits[2] = {0xA0, 0x40}; /* rows 101 and 010 */
    tmp_path(path, sizeof path, dir, "grey1.png");
    write_png(path, w, h, PNG_COLOR_TYPE_GRAY, 1, 0, bits, NULL, 0, NULL, 0);
    TM_CK(tm_image_load(path, 1, h, w, out));
    float want1[6] = {1, 0, 1, 0, 1, 0};
    for (int i = 0; i < 6; i++)
        ck_assert_float_eq(out[i], want1[i]);

    /* RGB: planes for 3 channels, BT.601 luma for 1. */
    unsigned char rgb[18] = {255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255, 10, 20, 30, 0, 0, 0};
    tmp_path(path, sizeof path, dir, "rgb.png");
    write_png(path, w, h, PNG_COLOR_TYPE_RGB, 8, 0, rgb, NULL, 0, NULL, 0);
    TM_CK(tm_image_load(path, 3, h, w, out));
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < 6; i++)
            ck_assert_float_eq_tol(out[c * 6 + i], rgb[3 * i + c] / 255.0f, 1e-7f);
    TM_CK(tm_image_load(path, 1, h, w, out));
    for (int i = 0; i < 6; i++) {
        float y = (0.299f * rgb[3 * i] + 0.587f * rgb[3 * i + 1] + 0.114f * rgb[3 * i + 2]) / 255;
        ck_assert_float_eq_tol(out[i], y, 1e-6f);
    }
    ck_assert_float_eq_tol(out[0], 0.299f, 1e-6f);
    ck_assert_float_eq_tol(out[3], 1.0f, 1e-6f);

    /* RGBA: composited onto black. */
    unsigned char rgba[24] = {255, 255, 255, 255, 255, 255, 255, 0,   200, 100, 50, 51,
                              0,   0,   0,   255, 255, 0,   0,   128, 10,  20,  30, 255};
    tmp_path(path, sizeof path, dir, "rgba.png");
    write_png(path, w, h, PNG_COLOR_TYPE_RGB_ALPHA, 8, 0, rgba, NULL, 0, NULL, 0);
    TM_CK(tm_image_load(path, 3, h, w, out));
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < 6; i++)
            ck_assert_float_eq_tol(out[c * 6 + i], rgba[4 * i + c] / 255.0f * rgba[4 * i + 3] / 255.0f,
                                   1e-6f);
    ck_assert_float_eq(out[1], 0.0f); /* fully transparent white is black */

    /* Grey + alpha. */
    unsigned char ga[12] = {255, 255, 255, 0, 200, 51, 100, 255, 0, 0, 255, 128};
    tmp_path(path, sizeof path, dir, "ga.png");
    write_png(path, w, h, PNG_COLOR_TYPE_GRAY_ALPHA, 8, 0, ga, NULL, 0, NULL, 0);
    TM_CK(tm_image_load(path, 1, h, w, out));
    for (int i = 0; i < 6; i++)
        ck_assert_float_eq_tol(out[i], ga[2 * i] / 255.0f * ga[2 * i + 1] / 255.0f, 1e-6f);

    /* Palette, 4-bit indices, entry 2 fully transparent through tRNS. */
    png_color pal[4] = {{0, 0, 0}, {255, 0, 0}, {0, 128, 255}, {40, 80, 120}};
    unsigned char alpha[3] = {255, 255, 0};
    unsigned char idx[4] = {0x01, 0x20, 0x32, 0x10}; /* rows 0 1 2 | 3 2 1 */
    tmp_path(path, sizeof path, dir, "palette.png");
    write_png(path, w, h, PNG_COLOR_TYPE_PALETTE, 4, 0, idx, pal, 4, alpha, 3);
    TM_CK(tm_image_load(path, 3, h, w, out));
    int want_idx[6] = {0, 1, 2, 3, 2, 1};
    for (int i = 0; i < 6; i++) {
        const png_color *p = &pal[want_idx[i]];
        float a = want_idx[i] < 3 ? alpha[want_idx[i]] / 255.0f : 1.0f;
        ck_assert_float_eq_tol(out[i], p->red / 255.0f * a, 1e-6f);
        ck_assert_float_eq_tol(out[6 + i], p->green / 255.0f * a, 1e-6f);
        ck_assert_float_eq_tol(out[12 + i], p->blue / 255.0f * a, 1e-6f);
    }
    ck_assert_float_eq(out[6 + 2], 0.0f);

    /* 16-bit RGBA, interlaced. */
    unsigned char rgba16[48];
    for (int i = 0; i < 24; i++) {
        unsigned v = (unsigned)(i * 2731 + 7) % 65536;
        if (i % 4 == 3)
            v = 65535 - (unsigned)i * 1000;
        rgba16[2 * i] = (unsigned char)(v >> 8);
        rgba16[2 * i + 1] = (unsigned char)(v & 255);
    }
    tmp_path(path, sizeof path, dir, "rgba16i.png");
    write_png(path, w, h, PNG_COLOR_TYPE_RGB_ALPHA, 16, 1, rgba16, NULL, 0, NULL, 0);
    TM_CK(tm_image_load(path, 3, h, w, out));
    for (int i = 0; i < 6; i++) {
        float a = (rgba16[8 * i + 6] << 8 | rgba16[8 * i + 7]) / 65535.0f;
        for (int c = 0; c < 3; c++) {
            float v = (rgba16[8 * i + 2 * c] << 8 | rgba16[8 * i + 2 * c + 1]) / 65535.0f;
            ck_assert_float_eq_tol(out[c * 6 + i], v * a, 1e-6f);
        }
    }
    ck_assert_int_eq(tm_image_load(path, 2, h, w, out), TM_ERR_ARG);
    tmp_cleanup(dir);
}
END_TEST

START_TEST(image_resize_known_patterns)
{
    /* 4x4 -> 2x2: area averaging = 2x2 block means. */
    float in[16], out[16];
    for (int i = 0; i < 16; i++)
        in[i] = (float)i;
    TM_CK(tm_image_resize(in, 1, 4, 4, out, 2, 2));
    ck_assert_float_eq_tol(out[0], (0 + 1 + 4 + 5) / 4.0f, 1e-6f);
    ck_assert_float_eq_tol(out[1], (2 + 3 + 6 + 7) / 4.0f, 1e-6f);
    ck_assert_float_eq_tol(out[2], (8 + 9 + 12 + 13) / 4.0f, 1e-6f);
    ck_assert_float_eq_tol(out[3], (10 + 11 + 14 + 15) / 4.0f, 1e-6f);

    /* 1x3 -> 1x2 (non-integer factor 1.5): [0,1.5) and [1.5,3). */
    float row[3] = {0, 1, 2};
    TM_CK(tm_image_resize(row, 1, 1, 3, out, 1, 2));
    ck_assert_float_eq_tol(out[0], 0.5f / 1.5f, 1e-6f);
    ck_assert_float_eq_tol(out[1], (0.5f + 2.0f) / 1.5f, 1e-6f);

    /* 2x2 -> 4x4 bilinear with centres aligned: source x = (o+0.5)/2-0.5,
     * clamped at the edges, so each axis reads 0, .25, .75, 1. */
    float sq[4] = {0, 1, 2, 3};
    TM_CK(tm_image_resize(sq, 1, 2, 2, out, 4, 4));
    float t[4] = {0, 0.25f, 0.75f, 1};
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 4; x++)
            ck_assert_float_eq_tol(out[y * 4 + x], 2 * t[y] + t[x], 1e-6f);

    /* Same size is an exact copy; constants stay constant either way. */
    TM_CK(tm_image_resize(in, 1, 4, 4, out, 4, 4));
    for (int i = 0; i < 16; i++)
        ck_assert_float_eq(out[i], in[i]);
    float flat[2 * 5 * 7], big[2 * 9 * 3];
    for (int i = 0; i < 70; i++)
        flat[i] = i < 35 ? 0.25f : 0.75f;
    TM_CK(tm_image_resize(flat, 2, 5, 7, big, 9, 3));
    for (int i = 0; i < 54; i++)
        ck_assert_float_eq_tol(big[i], i < 27 ? 0.25f : 0.75f, 1e-6f);
    ck_assert_int_eq(tm_image_resize(in, 1, 4, 4, out, 0, 4), TM_ERR_ARG);
}
END_TEST

/* CRC-32 as PNG chunks use it (zlib's polynomial). */
static unsigned long crc32_png(const unsigned char *p, size_t n)
{
    unsigned long c = 0xFFFFFFFFUL;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320UL & (0UL - (c & 1)));
    }
    return c ^ 0xFFFFFFFFUL;
}

static void put32(unsigned char *p, unsigned long v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

START_TEST(image_bad_files_name_the_file)
{
    char *dir = tm_test_tmpdir("decode");
    char path[4096], good[4096];
    float out[16 * 16];

    tmp_path(path, sizeof path, dir, "missing.png");
    expect_error(tm_image_load(path, 1, 4, 4, out), TM_ERR_IO, path, "No such file");

    tmp_path(path, sizeof path, dir, "empty.png");
    write_bytes(path, "", 0);
    expect_error(tm_image_load(path, 1, 4, 4, out), TM_ERR_FORMAT, path, "empty");

    tmp_path(path, sizeof path, dir, "text.png");
    const char *txt = "image,audio,label\nnot a picture\n";
    write_bytes(path, txt, strlen(txt));
    expect_error(tm_image_load(path, 1, 4, 4, out), TM_ERR_FORMAT, path, "not a PNG");

    /* A good 16x16 image, then damaged copies of it. */
    unsigned char px[256];
    for (int i = 0; i < 256; i++)
        px[i] = (unsigned char)(i * 7);
    tmp_path(good, sizeof good, dir, "good.png");
    write_png(good, 16, 16, PNG_COLOR_TYPE_GRAY, 8, 0, px, NULL, 0, NULL, 0);
    TM_CK(tm_image_load(good, 1, 16, 16, out));
    size_t len = 0;
    unsigned char *png = slurp(good, &len);
    ck_assert_uint_gt(len, 60);

    tmp_path(path, sizeof path, dir, "sig-only.png");
    write_bytes(path, png, 5);
    expect_error(tm_image_load(path, 1, 16, 16, out), TM_ERR_FORMAT, path, "truncated");

    tmp_path(path, sizeof path, dir, "truncated.png");
    write_bytes(path, png, len / 2);
    expect_error(tm_image_load(path, 1, 16, 16, out), TM_ERR_FORMAT, path, "truncated");

    tmp_path(path, sizeof path, dir, "no-iend.png");
    write_bytes(path, png, len - 12);
    expect_error(tm_image_load(path, 1, 16, 16, out), TM_ERR_FORMAT, path, NULL);

    /* Damage inside the IDAT payload (zlib or the chunk CRC notices). */
    unsigned char *bad = malloc(len);
    memcpy(bad, png, len);
    bad[33 + 8 + 4] ^= 0x55; /* IDAT starts after signature (8) + IHDR (25) */
    ck_assert_int_eq(memcmp(bad + 33 + 4, "IDAT", 4), 0);
    tmp_path(path, sizeof path, dir, "crc.png");
    write_bytes(path, bad, len);
    expect_error(tm_image_load(path, 1, 16, 16, out), TM_ERR_FORMAT, path, "IDAT");

    /* A header that says 0 x 16, with a valid CRC. */
    memcpy(bad, png, len);
    put32(bad + 16, 0);
    put32(bad + 29, crc32_png(bad + 12, 17));
    tmp_path(path, sizeof path, dir, "zero-width.png");
    write_bytes(path, bad, len);
    expect_error(tm_image_load(path, 1, 16, 16, out), TM_ERR_FORMAT, path, "zero");

    /* A header far beyond the size limit is refused before allocating. */
    memcpy(bad, png, len);
    put32(bad + 16, 1000000);
    put32(bad + 20, 1000000);
    put32(bad + 29, crc32_png(bad + 12, 17));
    tmp_path(path, sizeof path, dir, "huge.png");
    write_bytes(path, bad, len);
    expect_error(tm_image_load(path, 1, 16, 16, out), TM_ERR_FORMAT, path, NULL);

    free(bad);
    free(png);
    tmp_cleanup(dir);
}
END_TEST

static Suite *decode_suite(void)
{
    Suite *s = suite_create("decode");
    TCase *a = tcase_create("audio");
    tcase_add_test(a, audio_real_avdigits_wav);
    tcase_add_test(a, audio_coswara_48k_resampled_to_8k);
    tcase_add_test(a, audio_resampled_sine_matches);
    tcase_add_test(a, audio_stereo_mixes_down_to_mean);
    tcase_add_test(a, audio_pad_and_cut_rules);
    tcase_add_test(a, audio_flac_round_trip);
    tcase_add_test(a, audio_bad_inputs_name_the_file);
    suite_add_tcase(s, a);
    TCase *i = tcase_create("image");
    tcase_add_test(i, image_real_mnist_png);
    tcase_add_test(i, image_png_colour_types);
    tcase_add_test(i, image_resize_known_patterns);
    tcase_add_test(i, image_bad_files_name_the_file);
    suite_add_tcase(s, i);
    return s;
}

int main(void) { return tm_test_run(decode_suite()); }
