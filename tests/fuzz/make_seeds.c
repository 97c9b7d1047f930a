/* Writes the seed corpora of the fuzz targets (tests/fuzz/fuzz.sh runs it):
 * small valid inputs of every format each decoder meets, so the fuzzer
 * starts from deep inside the parsers instead of guessing magic numbers.
 *   make_seeds <dir>   creates <dir>/{manifest,audio,image,frontend}/ */
#include <math.h>
#include <png.h>
#include <sndfile.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char root[1024];

static FILE *open_out(const char *sub, const char *name)
{
    char p[1200];
    snprintf(p, sizeof p, "%s/%s", root, sub);
    mkdir(p, 0777);
    snprintf(p, sizeof p, "%s/%s/%s", root, sub, name);
    FILE *f = fopen(p, "wb");
    if (!f) {
        perror(p);
        exit(1);
    }
    return f;
}

static void text(const char *sub, const char *name, const char *s)
{
    FILE *f = open_out(sub, name);
    fputs(s, f);
    fclose(f);
}

static void audio(const char *name, int format, int channels, int rate, int frames)
{
    char p[1200];
    snprintf(p, sizeof p, "%s/audio", root);
    mkdir(p, 0777);
    snprintf(p, sizeof p, "%s/audio/%s", root, name);
    SF_INFO info = {.samplerate = rate, .channels = channels, .format = format};
    SNDFILE *f = sf_open(p, SFM_WRITE, &info);
    if (!f) {
        fprintf(stderr, "%s: %s\n", p, sf_strerror(NULL));
        exit(1);
    }
    float *x = malloc(sizeof *x * frames * channels);
    for (int i = 0; i < frames * channels; i++)
        x[i] = 0.5f * sinf(0.05f * (float)i);
    sf_writef_float(f, x, frames);
    free(x);
    sf_close(f);
}

static void image(const char *name, int color, int depth, int w, int h, int interlace)
{
    FILE *f = open_out("image", name);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) {
        fprintf(stderr, "%s: libpng error\n", name);
        exit(1);
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, w, h, depth, color, interlace, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (color == PNG_COLOR_TYPE_PALETTE) {
        png_color pal[4] = {{0, 0, 0}, {255, 0, 0}, {0, 255, 0}, {0, 0, 255}};
        png_set_PLTE(png, info, pal, 4);
    }
    png_write_info(png, info);
    int ch = color == PNG_COLOR_TYPE_RGB ? 3 : color == PNG_COLOR_TYPE_RGBA ? 4
           : color == PNG_COLOR_TYPE_GRAY_ALPHA ? 2 : 1;
    size_t rowbytes = png_get_rowbytes(png, info);
    png_bytep row = calloc(1, rowbytes);
    int passes = png_set_interlace_handling(png);
    for (int pass = 0; pass < passes; pass++)
        for (int y = 0; y < h; y++) {
            for (size_t i = 0; i < rowbytes; i++)
                row[i] = (png_byte)((y * 31 + i * 7 + ch) & (depth < 8 ? 0x55 : 0xff));
            png_write_row(png, row);
        }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(row);
    fclose(f);
}

static void pcm(const char *name, const float *x, size_t n)
{
    FILE *f = open_out("frontend", name);
    fwrite(x, sizeof *x, n, f);
    fclose(f);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_seeds <dir>\n");
        return 2;
    }
    snprintf(root, sizeof root, "%s", argv[1]);
    mkdir(root, 0777);

    text("manifest", "plain.csv", "path,label\na.wav,0\nb.wav,1\n");
    text("manifest", "quoted.csv",
         "\xef\xbb\xbfpath,label,note\r\n\"dir/a b.wav\",yes,\"say \"\"hi\"\"\"\r\n\r\n"
         "/abs/c.png,no,\"x,y\"\r\n");
    text("manifest", "numeric.csv", "file,class\n1.png,10\n2.png,2\n3.png,-1.5\n\n");

    audio("pcm16.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 1, 16000, 400);
    audio("float-stereo.wav", SF_FORMAT_WAV | SF_FORMAT_FLOAT, 2, 8000, 200);
    audio("u8.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_U8, 1, 11025, 100);
    audio("pcm24.aiff", SF_FORMAT_AIFF | SF_FORMAT_PCM_24, 1, 22050, 100);
    audio("pcm16.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 1, 16000, 300);
    audio("vorbis.ogg", SF_FORMAT_OGG | SF_FORMAT_VORBIS, 1, 16000, 300);
    audio("ulaw.au", SF_FORMAT_AU | SF_FORMAT_ULAW, 1, 8000, 100);

    image("grey8.png", PNG_COLOR_TYPE_GRAY, 8, 5, 4, PNG_INTERLACE_NONE);
    image("grey1.png", PNG_COLOR_TYPE_GRAY, 1, 9, 3, PNG_INTERLACE_NONE);
    image("grey-alpha16.png", PNG_COLOR_TYPE_GRAY_ALPHA, 16, 3, 3, PNG_INTERLACE_NONE);
    image("rgb8-interlaced.png", PNG_COLOR_TYPE_RGB, 8, 8, 8, PNG_INTERLACE_ADAM7);
    image("rgba16.png", PNG_COLOR_TYPE_RGBA, 16, 4, 2, PNG_INTERLACE_NONE);
    image("palette2.png", PNG_COLOR_TYPE_PALETTE, 2, 6, 5, PNG_INTERLACE_NONE);

    float x[1600];
    for (int i = 0; i < 1600; i++)
        x[i] = 0.3f * sinf(0.1f * (float)i) + 0.1f * sinf(1.3f * (float)i);
    pcm("sine.f32", x, 1600);
    memset(x, 0, sizeof x);
    pcm("zeros.f32", x, 1600);
    float odd[] = {NAN, INFINITY, -INFINITY, 1e30f, -1e30f, 1024.0f, 1e-40f, 0.5f};
    pcm("specials.f32", odd, sizeof odd / sizeof odd[0]);
    return 0;
}
