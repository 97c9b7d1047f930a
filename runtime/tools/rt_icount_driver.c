/* The program runtime/tools/bench_device.sh counts instructions of, under
 * QEMU: the runtime and libc only. It opens a model file, fills every input
 * with the same pseudo-random values each run (audio PCM in [-0.5, 0.5),
 * pixels in [0, 1), features in [-2, 2)), and runs ROWS times set-inputs +
 * invoke. The counter runs it with two ROWS values and takes the difference,
 * so start-up, file reading and printing cancel out exactly.
 *
 *   rt_icount_driver MODEL ROWS     prints the logits' checksum
 *   rt_icount_driver MODEL --macs   prints "conv N", "depthwise N",
 *                                   "dense N" (MACs per invoke, padding taps
 *                                   included) and "memory N" (bytes)
 *   rt_icount_driver MODEL --tmri FILE ROWS
 *                                   writes ROWS rows of those inputs as a
 *                                   raw-inputs file (runtime/tools/
 *                                   tm_rt_run_inputs.c's format), for the
 *                                   Cortex-M image (cortexm/tmri_to_c.py) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tm_rt_model.h"

static int fail(const char *what, const char *why)
{
    fprintf(stderr, "rt_icount_driver: %s: %s\n", what, why);
    return 1;
}

static uint32_t lcg(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

static void print_macs(const tm_rt_model *m)
{
    unsigned long long conv = 0, dw = 0, dense = 0;
    for (uint32_t i = 0; i < m->n_ops; i++) {
        const tm_rt_op_desc *op = &m->ops[i];
        const tm_rt_tensor_desc *in = &m->tensors[op->inputs[0]], *out = &m->tensors[op->output];
        unsigned long long pos = (unsigned long long)out->h * (unsigned long long)out->w;
        if (op->type == TM_RT_OP_CONV)
            conv += pos * (unsigned long long)out->c * (unsigned long long)in->c *
                    (unsigned long long)op->kh * (unsigned long long)op->kw;
        else if (op->type == TM_RT_OP_DEPTHWISE)
            dw += pos * (unsigned long long)out->c * (unsigned long long)op->kh *
                  (unsigned long long)op->kw;
        else if (op->type == TM_RT_OP_DENSE)
            dense += (unsigned long long)out->c * (unsigned long long)in->c *
                     (unsigned long long)in->h * (unsigned long long)in->w;
    }
    printf("conv %llu\ndepthwise %llu\ndense %llu\nmemory %lu\n", conv, dw, dense,
           (unsigned long)tm_rt_model_memory_bytes(m));
}

int main(int argc, char **argv)
{
    int tmri = argc == 5 && !strcmp(argv[2], "--tmri");
    if (argc != 3 && !tmri) {
        fprintf(stderr, "usage: rt_icount_driver MODEL ROWS | MODEL --macs | MODEL --tmri FILE ROWS\n");
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
    uint32_t *file = malloc(((size_t)len + 3) / 4 * 4); /* records are read in place */
    size_t got = file ? fread(file, 1, (size_t)len, f) : 0;
    fclose(f);
    if (got != (size_t)len)
        return fail(argv[1], "short read");
    tm_rt_model m;
    if (tm_rt_model_open(&m, file, got) != TM_RT_OK)
        return fail(argv[1], tm_rt_model_error(&m));
    if (!strcmp(argv[2], "--macs")) {
        print_macs(&m);
        free(file);
        return 0;
    }
    long rows = strtol(argv[tmri ? 4 : 2], NULL, 10);
    if (rows < 0 || rows > 1000000)
        return fail(argv[2], "ROWS must be 0..1000000");
    void *mem = malloc(tm_rt_model_memory_bytes(&m));
    float *x[TM_RT_MAX_MODEL_INPUTS] = {0};
    if (!mem)
        return fail(argv[1], "out of memory");
    uint32_t seed = 12345u;
    for (uint32_t i = 0; i < m.n_inputs; i++) {
        size_t n = tm_rt_model_input_floats(&m, (int)i);
        if (!(x[i] = malloc(sizeof(float) * (n ? n : 1))))
            return fail(argv[1], "out of memory");
        for (size_t j = 0; j < n; j++) {
            float u = (float)lcg(&seed) / 16777216.0f;
            x[i][j] = m.inputs[i].kind == TM_RT_INPUT_AUDIO   ? u - 0.5f
                      : m.inputs[i].kind == TM_RT_INPUT_IMAGE ? u
                                                              : 4.0f * u - 2.0f;
        }
    }
    if (tmri) {
        FILE *o = fopen(argv[3], "wb");
        if (!o)
            return fail(argv[3], "cannot write");
        uint32_t head[4] = {0x49524D54u, 1u, (uint32_t)rows, m.n_inputs};
        fwrite(head, 4, 4, o); /* little-endian hosts only, as the benchmark runs */
        for (uint32_t i = 0; i < m.n_inputs; i++) {
            uint32_t d[2] = {(uint32_t)m.inputs[i].kind, (uint32_t)tm_rt_model_input_floats(&m, (int)i)};
            fwrite(d, 4, 2, o);
        }
        for (long r = 0; r < rows; r++)
            for (uint32_t i = 0; i < m.n_inputs; i++)
                fwrite(x[i], sizeof(float), tm_rt_model_input_floats(&m, (int)i), o);
        return fclose(o) == 0 ? 0 : fail(argv[3], "cannot write");
    }
    uint32_t sum = 0;
    for (long r = 0; r < rows; r++) {
        for (uint32_t i = 0; i < m.n_inputs; i++) {
            int k = m.inputs[i].kind;
            tm_rt_status s = k == TM_RT_INPUT_AUDIO   ? tm_rt_model_set_audio(&m, mem, (int)i, x[i])
                             : k == TM_RT_INPUT_IMAGE ? tm_rt_model_set_image(&m, mem, (int)i, x[i])
                                                      : tm_rt_model_set_features(&m, mem, (int)i,
                                                                                 x[i]);
            if (s != TM_RT_OK)
                return fail("input", tm_rt_status_name(s));
        }
        tm_rt_status s = tm_rt_model_invoke(&m, mem);
        if (s != TM_RT_OK)
            return fail("invoke", tm_rt_status_name(s));
        const int8_t *l = tm_rt_model_logits(&m, mem);
        for (uint32_t c = 0; c < m.n_classes; c++)
            sum = sum * 31u + (uint8_t)l[c];
    }
    printf("checksum %08lx\n", (unsigned long)sum);
    for (uint32_t i = 0; i < m.n_inputs; i++)
        free(x[i]);
    free(mem);
    free(file);
    return 0;
}
