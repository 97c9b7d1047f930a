/* Test helper of tests/test_install.sh, built against the in-tree runtime:
 * writes ROWS rows of deterministic inputs for MODEL in the raw-inputs
 * format runtime/tools/tm_rt_run_inputs.c reads (TMRI): pixels in [0, 1),
 * PCM in [-0.5, 0.5), features in [-2, 2), written as float bits, which the
 * C arrays of tmri_to_c.py carry unchanged to every target.
 *
 *   make_inputs MODEL ROWS SEED > inputs.bin */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tm_rt_model.h"

static void put_u32(uint32_t v)
{
    unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    fwrite(b, 1, 4, stdout);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: make_inputs MODEL ROWS SEED > inputs.bin\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        fprintf(stderr, "make_inputs: %s: cannot open\n", argv[1]);
        return 1;
    }
    static uint32_t file[1 << 20]; /* 4 MB, 4-byte aligned */
    size_t n = fread(file, 1, sizeof file, f);
    fclose(f);
    tm_rt_model m;
    if (tm_rt_model_open(&m, file, n) != TM_RT_OK) {
        fprintf(stderr, "make_inputs: %s: %s\n", argv[1], tm_rt_model_error(&m));
        return 1;
    }
    uint32_t rows = (uint32_t)strtoul(argv[2], NULL, 10);
    uint32_t x = (uint32_t)strtoul(argv[3], NULL, 10) | 1u;
    put_u32(0x49524D54u); /* "TMRI" */
    put_u32(1);
    put_u32(rows);
    put_u32(m.n_inputs);
    for (uint32_t i = 0; i < m.n_inputs; i++) {
        put_u32((uint32_t)m.inputs[i].kind);
        put_u32((uint32_t)tm_rt_model_input_floats(&m, (int)i));
    }
    for (uint32_t r = 0; r < rows; r++)
        for (uint32_t i = 0; i < m.n_inputs; i++) {
            int k = m.inputs[i].kind;
            float lo = k == TM_RT_INPUT_IMAGE ? 0.0f : k == TM_RT_INPUT_AUDIO ? -0.5f : -2.0f;
            float span = k == TM_RT_INPUT_IMAGE ? 1.0f : k == TM_RT_INPUT_AUDIO ? 1.0f : 4.0f;
            for (size_t j = 0; j < tm_rt_model_input_floats(&m, (int)i); j++) {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                float v = lo + span * (float)(x >> 8) / 16777216.0f;
                uint32_t u;
                memcpy(&u, &v, 4);
                put_u32(u);
            }
        }
    return ferror(stdout) ? 1 : 0;
}
