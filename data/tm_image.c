#include "tm_image.h"

#include <errno.h>
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Everything the decoder owns lives here, outside the frame that calls
 * setjmp, so a longjmp from libpng never leaves a pointer we cannot free. */
typedef struct png_ctx {
    const char *path;
    FILE *f;
    png_structp png;
    png_infop info;
    unsigned char *data;
    png_bytep *rows;
    float *pixels;
    char msg[256];
    char warn[256];
} png_ctx;

static void png_on_error(png_structp png, png_const_charp msg)
{
    png_ctx *c = png_get_error_ptr(png);
    snprintf(c->msg, sizeof c->msg, "%s", msg);
    png_longjmp(png, 1);
}

/* Library code never prints; the last warning is kept to explain an error
 * that follows it (libpng warns "Image width is zero" before failing). */
static void png_on_warning(png_structp png, png_const_charp msg)
{
    png_ctx *c = png_get_error_ptr(png);
    snprintf(c->warn, sizeof c->warn, "%s", msg);
}

static void png_ctx_free(png_ctx *c)
{
    if (c->png)
        png_destroy_read_struct(&c->png, c->info ? &c->info : NULL, NULL);
    if (c->f)
        fclose(c->f);
    free(c->data);
    free(c->rows);
    free(c->pixels);
    memset(c, 0, sizeof *c);
}

static float sample(const unsigned char *p, int k, int depth16)
{
    return depth16 ? (float)((p[2 * k] << 8) | p[2 * k + 1]) / 65535.0f : (float)p[k] / 255.0f;
}

/* Converts the decoded rows into want channels of floats. */
static void to_float(png_ctx *c, int src_ch, int depth16, int want, int h, int w)
{
    size_t plane = (size_t)h * w;
    int has_alpha = src_ch == 2 || src_ch == 4, colour = src_ch >= 3;
    for (int y = 0; y < h; y++) {
        const unsigned char *row = c->rows[y];
        for (int x = 0; x < w; x++) {
            const unsigned char *p = row + (size_t)x * src_ch * (depth16 ? 2 : 1);
            float a = has_alpha ? sample(p, src_ch - 1, depth16) : 1.0f;
            float r, g, b;
            if (colour) {
                r = sample(p, 0, depth16) * a;
                g = sample(p, 1, depth16) * a;
                b = sample(p, 2, depth16) * a;
            } else {
                r = g = b = sample(p, 0, depth16) * a;
            }
            size_t i = (size_t)y * w + x;
            if (want == 1) {
                c->pixels[i] = colour ? 0.299f * r + 0.587f * g + 0.114f * b : r;
            } else {
                c->pixels[i] = r;
                c->pixels[plane + i] = g;
                c->pixels[2 * plane + i] = b;
            }
        }
    }
}

/* The only function that calls setjmp; it touches no local after a jump. */
static tm_status png_decode(png_ctx *c, int want, int *out_h, int *out_w)
{
    if (setjmp(png_jmpbuf(c->png))) {
        if (c->warn[0])
            return tm_error(TM_ERR_FORMAT, "%s: corrupt or truncated PNG: %s (%s)", c->path,
                            c->msg, c->warn);
        return tm_error(TM_ERR_FORMAT, "%s: corrupt or truncated PNG: %s", c->path, c->msg);
    }
    png_init_io(c->png, c->f);
    png_set_sig_bytes(c->png, 8);
    png_set_user_limits(c->png, TM_IMAGE_MAX_SIDE, TM_IMAGE_MAX_SIDE);
    png_read_info(c->png, c->info);
    png_uint_32 w = png_get_image_width(c->png, c->info);
    png_uint_32 h = png_get_image_height(c->png, c->info);
    if (w == 0 || h == 0)
        return tm_error(TM_ERR_FORMAT, "%s: zero-size image (%lux%lu)", c->path,
                        (unsigned long)w, (unsigned long)h);
    if ((unsigned long long)w * h > (unsigned long long)TM_IMAGE_MAX_PIXELS)
        return tm_error(TM_ERR_FORMAT, "%s: %lu x %lu pixels, over the limit of %ld in all",
                        c->path, (unsigned long)w, (unsigned long)h, (long)TM_IMAGE_MAX_PIXELS);
    /* Palette -> RGB, grey below 8 bits -> 8 bits, tRNS -> alpha; 16-bit
     * samples are kept and scaled by 65535 below. */
    png_set_expand(c->png);
    png_set_interlace_handling(c->png);
    png_read_update_info(c->png, c->info);
    int src_ch = png_get_channels(c->png, c->info);
    int depth = png_get_bit_depth(c->png, c->info);
    size_t rowbytes = png_get_rowbytes(c->png, c->info);
    if (src_ch < 1 || src_ch > 4 || (depth != 8 && depth != 16) ||
        rowbytes < (size_t)w * src_ch * (depth / 8))
        return tm_error(TM_ERR_INTERNAL, "%s: unexpected layout after expansion: %d channels, %d bits",
                        c->path, src_ch, depth);
    c->data = malloc(rowbytes * h);
    c->rows = malloc(sizeof *c->rows * h);
    c->pixels = malloc(sizeof *c->pixels * (size_t)want * w * h);
    if (!c->data || !c->rows || !c->pixels)
        return tm_error(TM_ERR_NOMEM, "%s: out of memory for a %lux%lu image", c->path,
                        (unsigned long)w, (unsigned long)h);
    for (png_uint_32 y = 0; y < h; y++)
        c->rows[y] = c->data + (size_t)y * rowbytes;
    png_read_image(c->png, c->rows);
    /* Reading to IEND checks the trailing CRCs, so a cut file is refused. */
    png_read_end(c->png, NULL);
    to_float(c, src_ch, depth == 16, want, (int)h, (int)w);
    *out_h = (int)h;
    *out_w = (int)w;
    return TM_OK;
}

static tm_status png_open(png_ctx *c, const char *path)
{
    c->path = path;
    c->f = fopen(path, "rb");
    if (!c->f)
        return tm_error(TM_ERR_IO, "%s: cannot open image: %s", path, strerror(errno));
    unsigned char sig[8];
    size_t n = fread(sig, 1, sizeof sig, c->f);
    if (n < sizeof sig && ferror(c->f))
        return tm_error(TM_ERR_IO, "%s: cannot read image: %s", path, strerror(errno));
    if (n == 0)
        return tm_error(TM_ERR_FORMAT, "%s: empty file, not a PNG image", path);
    if (png_sig_cmp(sig, 0, n) != 0)
        return tm_error(TM_ERR_FORMAT, "%s: not a PNG file (bad signature)", path);
    if (n < sizeof sig)
        return tm_error(TM_ERR_FORMAT, "%s: truncated PNG (%zu bytes)", path, n);
    /* IHDR must come first; its size is checked here so the refusal names
     * our limit rather than libpng's. */
    unsigned char ihdr[16];
    if (fread(ihdr, 1, sizeof ihdr, c->f) == sizeof ihdr && memcmp(ihdr + 4, "IHDR", 4) == 0) {
        unsigned long w = png_get_uint_32(ihdr + 8), h = png_get_uint_32(ihdr + 12);
        if (w > TM_IMAGE_MAX_SIDE || h > TM_IMAGE_MAX_SIDE ||
            (unsigned long long)w * h > (unsigned long long)TM_IMAGE_MAX_PIXELS)
            return tm_error(TM_ERR_FORMAT,
                            "%s: header claims %lu x %lu pixels, over the limit of %d per side "
                            "and %ld in all (TM_IMAGE_MAX_SIDE, TM_IMAGE_MAX_PIXELS in "
                            "tm_image.h)",
                            path, w, h, TM_IMAGE_MAX_SIDE, (long)TM_IMAGE_MAX_PIXELS);
    }
    if (fseek(c->f, (long)sizeof sig, SEEK_SET) != 0)
        return tm_error(TM_ERR_IO, "%s: cannot seek in image: %s", path, strerror(errno));
    c->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, c, png_on_error, png_on_warning);
    if (c->png)
        c->info = png_create_info_struct(c->png);
    if (!c->png || !c->info)
        return tm_error(TM_ERR_NOMEM, "%s: cannot create the PNG decoder", path);
    return TM_OK;
}

tm_status tm_image_read(const char *path, int channels, float **pixels, int *height, int *width)
{
    if (!pixels || !height || !width)
        return tm_error(TM_ERR_ARG, "image: NULL output pointer");
    *pixels = NULL;
    *height = *width = 0;
    if (!path)
        return tm_error(TM_ERR_ARG, "image: NULL path");
    if (channels != 1 && channels != 3)
        return tm_error(TM_ERR_ARG, "%s: %d channels requested (1 or 3 allowed)", path, channels);
    png_ctx c;
    memset(&c, 0, sizeof c);
    tm_status s = png_open(&c, path);
    if (s == TM_OK)
        s = png_decode(&c, channels, height, width);
    if (s == TM_OK) {
        *pixels = c.pixels;
        c.pixels = NULL;
    } else {
        *height = *width = 0;
    }
    png_ctx_free(&c);
    return s;
}

/* One axis of the resize: output o reads n[o] taps from index first[o]
 * with weights w[o * k ...]. */
typedef struct axis_taps {
    int k;
    int *first, *n;
    float *w;
} axis_taps;

static void taps_free(axis_taps *t)
{
    free(t->first);
    free(t->n);
    free(t->w);
}

static tm_status taps_build(axis_taps *t, int in, int out)
{
    double s = (double)in / out;
    t->k = in > out ? (int)ceil(s) + 1 : 2;
    t->first = malloc(sizeof *t->first * out);
    t->n = malloc(sizeof *t->n * out);
    t->w = calloc((size_t)out * t->k, sizeof *t->w);
    if (!t->first || !t->n || !t->w) {
        taps_free(t);
        return tm_error(TM_ERR_NOMEM, "image resize: out of memory");
    }
    for (int o = 0; o < out; o++) {
        float *w = t->w + (size_t)o * t->k;
        if (in > out) {
            /* Area averaging: each output covers [o*s, (o+1)*s) of the input. */
            double lo = o * s, hi = (o + 1) * s;
            int i0 = (int)floor(lo), cnt = 0;
            for (int i = i0; i < in && i < hi && cnt < t->k; i++) {
                double a = (i + 1 < hi ? i + 1 : hi) - (i > lo ? i : lo);
                w[cnt++] = (float)(a / s);
            }
            t->first[o] = i0;
            t->n[o] = cnt;
        } else {
            double x = (o + 0.5) * s - 0.5;
            if (x < 0)
                x = 0;
            if (x > in - 1)
                x = in - 1;
            int i0 = (int)floor(x);
            double f = x - i0;
            t->first[o] = i0;
            if (i0 + 1 < in && f > 0) {
                w[0] = (float)(1 - f);
                w[1] = (float)f;
                t->n[o] = 2;
            } else {
                w[0] = 1;
                t->n[o] = 1;
            }
        }
    }
    return TM_OK;
}

tm_status tm_image_resize(const float *in, int channels, int in_h, int in_w, float *out, int out_h,
                          int out_w)
{
    if (!in || !out || channels < 1 || in_h < 1 || in_w < 1 || out_h < 1 || out_w < 1)
        return tm_error(TM_ERR_ARG, "image resize: %d channels, %dx%d -> %dx%d", channels, in_h,
                        in_w, out_h, out_w);
    axis_taps th = {0}, tw = {0};
    TM_TRY(taps_build(&th, in_h, out_h));
    tm_status s = taps_build(&tw, in_w, out_w);
    if (s != TM_OK) {
        taps_free(&th);
        return s;
    }
    float *tmp = malloc(sizeof *tmp * (size_t)channels * in_h * out_w);
    if (!tmp) {
        taps_free(&th);
        taps_free(&tw);
        return tm_error(TM_ERR_NOMEM, "image resize: out of memory");
    }
    for (int c = 0; c < channels; c++) {
        const float *src = in + (size_t)c * in_h * in_w;
        float *mid = tmp + (size_t)c * in_h * out_w;
        for (int y = 0; y < in_h; y++)
            for (int x = 0; x < out_w; x++) {
                const float *w = tw.w + (size_t)x * tw.k;
                const float *r = src + (size_t)y * in_w + tw.first[x];
                float acc = 0;
                for (int j = 0; j < tw.n[x]; j++)
                    acc += w[j] * r[j];
                mid[(size_t)y * out_w + x] = acc;
            }
        float *dst = out + (size_t)c * out_h * out_w;
        for (int y = 0; y < out_h; y++) {
            const float *w = th.w + (size_t)y * th.k;
            float *d = dst + (size_t)y * out_w;
            for (int x = 0; x < out_w; x++)
                d[x] = 0;
            for (int j = 0; j < th.n[y]; j++) {
                const float *r = mid + (size_t)(th.first[y] + j) * out_w;
                for (int x = 0; x < out_w; x++)
                    d[x] += w[j] * r[x];
            }
        }
    }
    free(tmp);
    taps_free(&th);
    taps_free(&tw);
    return TM_OK;
}

tm_status tm_image_load(const char *path, int channels, int height, int width, float *out)
{
    if (!out || height < 1 || width < 1)
        return tm_error(TM_ERR_ARG, "%s: image load needs an output of at least 1x1",
                        path ? path : "(null)");
    float *px = NULL;
    int h = 0, w = 0;
    TM_TRY(tm_image_read(path, channels, &px, &h, &w));
    tm_status s = TM_OK;
    if (h == height && w == width)
        memcpy(out, px, sizeof *px * (size_t)channels * h * w);
    else if ((s = tm_image_resize(px, channels, h, w, out, height, width)) != TM_OK)
        s = tm_error_prefix(s, "%s: ", path);
    free(px);
    return s;
}
