/* A device-side program: the runtime and libc only (C99, no other library),
 * the way firmware would use it. Reads a model file and a file of raw
 * inputs (written by `tinym2net-run --dump-inputs` or by tests), runs every
 * row and prints the int8 logits as CSV, so the output of a cross-compiled
 * build (aarch64 under qemu) can be compared byte for byte with the host's.
 *
 *   tm_rt_run_inputs MODEL INPUTS > logits.csv
 *
 * INPUTS (little-endian): uint32 magic "TMRI", version 1, rows, n_inputs;
 * per input uint32 kind (tm_rt_input_kind) and floats per row; then per row,
 * per input, that many float32 (PCM for audio, pixels for images, features
 * otherwise). Output: "row,<class names>" then "r,l0,l1,..." per row. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tm_rt_model.h"

#define RUN_INPUTS_MAGIC 0x49524D54u

static int fail(const char *what, const char *why)
{
    fprintf(stderr, "tm_rt_run_inputs: %s: %s\n", what, why);
    return 1;
}

/* A class name as an RFC 4180 field, quoted as tinym2net-run's CSV writer
 * (core/tm_csv.c) quotes it, so the two programs' files compare byte for
 * byte: quotes doubled; quoted when it holds a comma, quote, CR or LF, or
 * starts or ends with a space or tab. This program links the runtime only. */
static void put_csv_field(const char *s, size_t cap)
{
    const char *z = memchr(s, '\0', cap);
    size_t n = z ? (size_t)(z - s) : cap;
    int quote = n > 0 && (s[0] == ' ' || s[0] == '\t' || s[n - 1] == ' ' || s[n - 1] == '\t');
    for (size_t i = 0; i < n && !quote; i++)
        quote = s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n';
    if (!quote) {
        fwrite(s, 1, n, stdout);
        return;
    }
    putchar('"');
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            putchar('"');
        putchar(s[i]);
    }
    putchar('"');
}

static int read_u32(FILE *f, uint32_t *v)
{
    uint8_t b[4];
    if (fread(b, 1, 4, f) != 4)
        return -1;
    *v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    return 0;
}

/* float32 little-endian, whatever the host's byte order. */
static int read_floats(FILE *f, float *x, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        uint32_t u;
        if (read_u32(f, &u))
            return -1;
        memcpy(&x[i], &u, 4);
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: tm_rt_run_inputs MODEL INPUTS\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f)
        return fail(argv[1], "cannot open");
    long len = -1;
    if (fseek(f, 0, SEEK_END) == 0)
        len = ftell(f);
    if (len <= 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return fail(argv[1], "cannot size");
    }
    /* uint32 storage: the records are read in place and need 4-byte alignment. */
    uint32_t *file = malloc(((size_t)len + 3) / 4 * 4);
    size_t got = file ? fread(file, 1, (size_t)len, f) : 0;
    fclose(f);
    if (got != (size_t)len)
        return fail(argv[1], "short read");
    tm_rt_model m;
    if (tm_rt_model_open(&m, file, got) != TM_RT_OK)
        return fail(argv[1], tm_rt_model_error(&m));
    void *mem = malloc(tm_rt_model_memory_bytes(&m));
    if (!mem)
        return fail(argv[1], "out of memory");

    FILE *in = fopen(argv[2], "rb");
    if (!in)
        return fail(argv[2], "cannot open");
    uint32_t magic, version, rows, n_inputs, kind[TM_RT_MAX_MODEL_INPUTS],
        count[TM_RT_MAX_MODEL_INPUTS];
    if (read_u32(in, &magic) || read_u32(in, &version) || read_u32(in, &rows) ||
        read_u32(in, &n_inputs))
        return fail(argv[2], "truncated header");
    if (magic != RUN_INPUTS_MAGIC || version != 1)
        return fail(argv[2], "not an inputs file (magic TMRI, version 1)");
    if (n_inputs != m.n_inputs)
        return fail(argv[2], "its input count differs from the model's");
    float *x[TM_RT_MAX_MODEL_INPUTS] = {0};
    for (uint32_t i = 0; i < n_inputs; i++) {
        if (read_u32(in, &kind[i]) || read_u32(in, &count[i]))
            return fail(argv[2], "truncated header");
        if (kind[i] != (uint32_t)m.inputs[i].kind ||
            count[i] != tm_rt_model_input_floats(&m, (int)i))
            return fail(argv[2], "an input's kind or size differs from the model's");
        if (!(x[i] = malloc(sizeof(float) * count[i])))
            return fail(argv[2], "out of memory");
    }
    printf("row");
    for (uint32_t c = 0; c < m.n_classes; c++) {
        putchar(',');
        put_csv_field(m.class_names[c], TM_RT_NAME_LEN);
    }
    printf("\n");
    for (uint32_t r = 0; r < rows; r++) {
        for (uint32_t i = 0; i < n_inputs; i++) {
            if (read_floats(in, x[i], count[i]))
                return fail(argv[2], "truncated rows");
            tm_rt_status s = kind[i] == TM_RT_INPUT_AUDIO ? tm_rt_model_set_audio(&m, mem, (int)i, x[i])
                             : kind[i] == TM_RT_INPUT_IMAGE
                                 ? tm_rt_model_set_image(&m, mem, (int)i, x[i])
                                 : tm_rt_model_set_features(&m, mem, (int)i, x[i]);
            if (s != TM_RT_OK)
                return fail("input", tm_rt_status_name(s));
        }
        tm_rt_status s = tm_rt_model_invoke(&m, mem);
        if (s != TM_RT_OK)
            return fail("invoke", tm_rt_status_name(s));
        const int8_t *l = tm_rt_model_logits(&m, mem);
        printf("%lu", (unsigned long)r);
        for (uint32_t c = 0; c < m.n_classes; c++)
            printf(",%d", l[c]);
        printf("\n");
    }
    fclose(in);
    for (uint32_t i = 0; i < n_inputs; i++)
        free(x[i]);
    free(mem);
    free(file);
    return ferror(stdout) ? 1 : 0;
}
