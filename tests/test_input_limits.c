/* Sizes and values a file claims are bounded before they cost memory or
 * turn features into NaN: crafted WAV, FLAC and PNG headers, float WAVs
 * with absurd samples, and features that overflow. */
#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tm_audio.h"
#include "tm_features.h"
#include "tm_image.h"
#include "tm_manifest_data.h"
#include "tm_test_util.h"

static void put16(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put32be(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (24 - 8 * i));
}

/* A PCM WAV whose header says what we like and whose body is body bytes of
 * silence. */
static void write_wav_header(const char *path, unsigned channels, uint32_t rate, unsigned bits,
                             uint32_t data_size, size_t body)
{
    unsigned char h[44];
    unsigned block = channels * bits / 8;
    memcpy(h, "RIFF", 4);
    put32(h + 4, (uint32_t)(36 + body));
    memcpy(h + 8, "WAVEfmt ", 8);
    put32(h + 16, 16);
    put16(h + 20, 1);
    put16(h + 22, channels);
    put32(h + 24, rate);
    put32(h + 28, rate * block);
    put16(h + 32, block);
    put16(h + 34, bits);
    memcpy(h + 36, "data", 4);
    put32(h + 40, data_size);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(h, 1, sizeof h, f), sizeof h);
    for (size_t i = 0; i < body; i++)
        fputc(bits == 8 ? 128 : 0, f);
    fclose(f);
}

static void expect_refused(tm_status s, const char *path, const char *what)
{
    ck_assert_msg(s == TM_ERR_FORMAT, "%s: %s -> %s", path, tm_status_name(s), tm_last_error());
    const char *e = tm_last_error();
    ck_assert_msg(strstr(e, path) && strstr(e, "over the limit") && strstr(e, what),
                  "wanted the file, 'over the limit' and '%s' in: %s", what, e);
}

START_TEST(wav_header_with_too_many_channels_or_too_high_a_rate_is_refused)
{
    char *dir = tm_test_tmpdir("limits");
    char p[4096];
    float *x = (float *)1;
    size_t n = 1;
    /* 0xFFFFFFFF: the "length unknown" marker, so libsndfile reads to the end */
    snprintf(p, sizeof p, "%s/wide.wav", dir);
    write_wav_header(p, 1024, 8000, 16, 0xFFFFFFFFu, 8192);
    expect_refused(tm_audio_read_all(p, &x, &n, NULL), p, "x 1024 channels");
    ck_assert_ptr_null(x);
    ck_assert_uint_eq(n, 0);
    snprintf(p, sizeof p, "%s/fast.wav", dir);
    write_wav_header(p, 2, 2147483647u, 16, 4096, 4096);
    expect_refused(tm_audio_read_all(p, &x, &n, NULL), p, "2147483647 Hz");
    /* the same short body at sane settings loads */
    snprintf(p, sizeof p, "%s/ok.wav", dir);
    write_wav_header(p, 2, 8000, 16, 4096, 4096);
    TM_CK(tm_audio_read_all(p, &x, &n, NULL));
    ck_assert_uint_eq(n, 1024);
    free(x);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
    free(dir);
}
END_TEST

/* 42 bytes of FLAC STREAMINFO claiming 2^30 - 1 frames and no audio: the
 * loader used to malloc 4 GiB for it before finding nothing to read. */
START_TEST(flac_header_claiming_a_billion_frames_is_refused_before_allocation)
{
    char *dir = tm_test_tmpdir("limits");
    char p[4096];
    snprintf(p, sizeof p, "%s/huge.flac", dir);
    unsigned char b[42] = {0};
    memcpy(b, "fLaC", 4);
    b[4] = 0x80; /* last metadata block, STREAMINFO */
    b[7] = 34;
    unsigned char *si = b + 8;
    si[0] = 0x10; /* 4096-sample blocks */
    si[2] = 0x10;
    uint64_t v = (8000ull << 44) | (0ull << 41) | (15ull << 36) | ((1ull << 30) - 1);
    for (int i = 0; i < 8; i++)
        si[10 + i] = (unsigned char)(v >> (56 - 8 * i));
    FILE *f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(b, 1, sizeof b, f), sizeof b);
    fclose(f);
    float *x = NULL;
    size_t n = 0;
    expect_refused(tm_audio_read_all(p, &x, &n, NULL), p, "1073741823 frames x 1 channels");
    float out[100];
    expect_refused(tm_audio_load(p, 8000, 100, TM_AUDIO_FIT_START, out, NULL), p,
                   "1073741823 frames");
    unlink(p);
    rmdir(dir);
    free(dir);
}
END_TEST

/* 32 Hz -> 8 kHz multiplies the length by 250: a 300 KB file would have
 * resampled into 75 million floats. */
START_TEST(resampling_past_the_sample_limit_is_refused)
{
    char *dir = tm_test_tmpdir("limits");
    char p[4096];
    snprintf(p, sizeof p, "%s/slow.wav", dir);
    size_t frames = (size_t)(TM_AUDIO_MAX_SAMPLES / 250) + 1000;
    write_wav_header(p, 1, 32, 8, (uint32_t)frames, frames);
    float out[8000];
    expect_refused(tm_audio_load(p, 8000, 8000, TM_AUDIO_FIT_START, out, NULL), p,
                   "output samples");
    unlink(p);
    rmdir(dir);
    free(dir);
}
END_TEST

static void write_float_wav(const char *path, const float *x, int n)
{
    SF_INFO si;
    memset(&si, 0, sizeof si);
    si.samplerate = 8000;
    si.channels = 1;
    si.format = SF_FORMAT_WAV | SF_FORMAT_FLOAT;
    SNDFILE *sf = sf_open(path, SFM_WRITE, &si);
    ck_assert_msg(sf != NULL, "%s: %s", path, sf_strerror(NULL));
    ck_assert_int_eq(sf_writef_float(sf, x, n), n);
    sf_close(sf);
}

START_TEST(float_wav_with_huge_samples_is_refused_naming_the_file)
{
    char *dir = tm_test_tmpdir("limits");
    char p[4096];
    static float x[8000], out[8000];
    for (int i = 0; i < 8000; i++)
        x[i] = (i % 2 ? 0.5f : -0.5f) * TM_AUDIO_MAX_ABS * 2.0f;
    snprintf(p, sizeof p, "%s/ok.wav", dir);
    write_float_wav(p, x, 8000);
    TM_CK(tm_audio_load(p, 8000, 8000, TM_AUDIO_FIT_START, out, NULL));
    ck_assert_float_eq(out[1], TM_AUDIO_MAX_ABS);
    x[4321] = 1e30f;
    snprintf(p, sizeof p, "%s/loud.wav", dir);
    write_float_wav(p, x, 8000);
    expect_refused(tm_audio_load(p, 8000, 8000, TM_AUDIO_FIT_START, out, NULL), p,
                   "sample 4321 is 1e+30");
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
    free(dir);
}
END_TEST

static void mfcc_spec(tm_feature_spec *f)
{
    memset(f, 0, sizeof *f);
    snprintf(f->name, sizeof f->name, "audio");
    f->kind = TM_FEATURE_MFCC;
    tm_rt_frontend_config c = {.sample_rate = 8000, .window_length = 256, .hop_length = 128,
                               .n_mels = 40, .n_mfcc = 13, .fmin = 20.0f, .fmax = 4000.0f,
                               .window = TM_RT_WINDOW_HANN, .log_floor = 1e-6f,
                               .num_samples = 8000};
    f->fe = c;
    f->duration = 1.0f;
}

/* Samples that reach the front end without the decoder (a caller's own
 * buffer) and overflow its power spectrum are refused, not passed on. */
START_TEST(features_that_overflow_are_refused_with_their_index)
{
    tm_feature_spec f;
    mfcc_spec(&f);
    tm_featurizer z;
    TM_CK(tm_featurizer_init(&z, &f));
    static float raw[8000];
    float *feat = malloc(sizeof(float) * tm_feature_dim(&f));
    for (int i = 0; i < 8000; i++)
        raw[i] = (float)sin(i * 0.3);
    TM_CK(tm_featurize(&z, raw, feat, NULL));
    for (int i = 0; i < 8000; i++)
        raw[i] = i % 2 ? 1e30f : -1e30f;
    tm_status s = tm_featurize(&z, raw, feat, NULL);
    ck_assert_msg(s == TM_ERR_FORMAT, "%s: %s", tm_status_name(s), tm_last_error());
    ck_assert_msg(strstr(tm_last_error(), "branch audio: feature ") &&
                      (strstr(tm_last_error(), "NaN") || strstr(tm_last_error(), "infinite")),
                  "%s", tm_last_error());
    free(feat);
    tm_featurizer_free(&z);
}
END_TEST

/* Training used to fail epochs later with "evaluation loss: NaN"; now the
 * load stops at the manifest line and names the file. */
START_TEST(manifest_with_a_huge_float_sample_names_the_line_and_the_file)
{
    char *dir = tm_test_tmpdir("limits");
    char p[4096], man[4096];
    static float x[8000];
    for (int i = 0; i < 8000; i++)
        x[i] = 0.25f * (float)sin(i * 0.1);
    snprintf(p, sizeof p, "%s/quiet.wav", dir);
    write_float_wav(p, x, 8000);
    x[100] = 1e30f;
    snprintf(p, sizeof p, "%s/loud.wav", dir);
    write_float_wav(p, x, 8000);
    snprintf(man, sizeof man, "%s/m.csv", dir);
    FILE *f = fopen(man, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "audio,label\nquiet.wav,a\nquiet.wav,b\nloud.wav,a\n");
    fclose(f);
    tm_feature_spec spec;
    mfcc_spec(&spec);
    tm_manifest_options o;
    memset(&o, 0, sizeof o);
    o.specs = &spec;
    o.n_specs = 1;
    o.label_column = "label";
    tm_manifest_set set;
    ck_assert_int_eq(tm_manifest_set_load(&set, man, &o), TM_ERR_FORMAT);
    ck_assert_msg(strstr(tm_last_error(), "m.csv:4") && strstr(tm_last_error(), "loud.wav") &&
                      strstr(tm_last_error(), "over the limit"),
                  "%s", tm_last_error());
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
    free(dir);
}
END_TEST

static uint32_t crc32_png(const unsigned char *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    }
    return c ^ 0xFFFFFFFFu;
}

/* A valid signature and IHDR (with its CRC) claiming w x h RGBA, then IEND. */
static void write_png_header(const char *path, uint32_t w, uint32_t h)
{
    unsigned char b[8 + 25 + 12];
    memcpy(b, "\x89PNG\r\n\x1a\n", 8);
    unsigned char *c = b + 8;
    put32be(c, 13);
    memcpy(c + 4, "IHDR", 4);
    put32be(c + 8, w);
    put32be(c + 12, h);
    c[16] = 8; /* depth */
    c[17] = 6; /* RGBA */
    c[18] = c[19] = c[20] = 0;
    put32be(c + 21, crc32_png(c + 4, 17));
    unsigned char *e = c + 25;
    put32be(e, 0);
    memcpy(e + 4, "IEND", 4);
    put32be(e + 8, crc32_png(e + 4, 4));
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(b, 1, sizeof b, f), sizeof b);
    fclose(f);
}

START_TEST(png_header_claiming_a_huge_image_is_refused_before_allocation)
{
    char *dir = tm_test_tmpdir("limits");
    char p[4096];
    float *px = NULL;
    int h = 0, w = 0;
    snprintf(p, sizeof p, "%s/square.png", dir);
    /* each side within TM_IMAGE_MAX_SIDE, 4 GiB of floats in all */
    write_png_header(p, TM_IMAGE_MAX_SIDE, TM_IMAGE_MAX_SIDE);
    expect_refused(tm_image_read(p, 3, &px, &h, &w), p, "header claims 16384 x 16384 pixels");
    ck_assert_ptr_null(px);
    snprintf(p, sizeof p, "%s/wide.png", dir);
    write_png_header(p, 2147483647u, 1);
    float out[28 * 28];
    expect_refused(tm_image_load(p, 1, 28, 28, out), p, "header claims 2147483647 x 1 pixels");
    /* a small real image still decodes */
    snprintf(p, sizeof p, "%s/small.png", dir);
    uint8_t g[4 * 3] = {0, 255, 0, 255, 0, 255, 0, 255, 0, 255, 0, 255};
    tm_test_write_png(p, g, 4, 3);
    TM_CK(tm_image_read(p, 1, &px, &h, &w));
    ck_assert_int_eq(h, 3);
    ck_assert_int_eq(w, 4);
    ck_assert_float_eq(px[1], 1.0f);
    free(px);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
    free(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("input_limits");
    TCase *tc = tcase_create("all");
    tcase_add_test(tc, wav_header_with_too_many_channels_or_too_high_a_rate_is_refused);
    tcase_add_test(tc, flac_header_claiming_a_billion_frames_is_refused_before_allocation);
    tcase_add_test(tc, resampling_past_the_sample_limit_is_refused);
    tcase_add_test(tc, float_wav_with_huge_samples_is_refused_naming_the_file);
    tcase_add_test(tc, features_that_overflow_are_refused_with_their_index);
    tcase_add_test(tc, manifest_with_a_huge_float_sample_names_the_line_and_the_file);
    tcase_add_test(tc, png_header_claiming_a_huge_image_is_refused_before_allocation);
    suite_add_tcase(s, tc);
    return tm_test_run(s);
}
