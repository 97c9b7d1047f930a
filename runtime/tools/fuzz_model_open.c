/* libFuzzer harness for the model loader (runtime/tools/fuzz.sh builds and
 * runs it): every input is opened as it is, then again with its CRC
 * recomputed so mutations reach the structural checks; whatever opens is
 * run on exact-size buffers, so ASan sees any read past a bound. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tm_rt_model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void run(const tm_rt_model *m)
{
    size_t mb = tm_rt_model_memory_bytes(m);
    if (mb > ((size_t)64 << 20))
        return;
    uint8_t *mem = malloc(mb);
    if (!mem)
        return;
    for (uint32_t i = 0; i < m->n_inputs; i++) {
        size_t n = tm_rt_model_input_floats(m, (int)i);
        float *x = malloc((n ? n : 1) * sizeof(float));
        if (!x)
            break;
        for (size_t j = 0; j < n; j++)
            x[j] = (float)((j * 37u) % 101u) / 50.0f - 1.0f;
        switch (m->inputs[i].kind) {
        case TM_RT_INPUT_AUDIO: tm_rt_model_set_audio(m, mem, (int)i, x); break;
        case TM_RT_INPUT_IMAGE: tm_rt_model_set_image(m, mem, (int)i, x); break;
        default: tm_rt_model_set_features(m, mem, (int)i, x); break;
        }
        free(x);
    }
    tm_rt_model_invoke(m, mem);
    float *p = malloc(m->n_classes * sizeof(float));
    if (p) {
        tm_rt_model_scores(m, mem, p);
        free(p);
    }
    free(mem);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size heap copy (malloc is 4-byte aligned, as open requires). */
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    tm_rt_model m;
    if (tm_rt_model_open(&m, copy, size) == TM_RT_OK)
        run(&m);
    if (size >= sizeof(tm_rt_file_header)) {
        uint32_t crc = tm_rt_model_file_crc(copy, size);
        memcpy(copy + offsetof(tm_rt_file_header, crc32), &crc, 4);
        if (tm_rt_model_open(&m, copy, size) == TM_RT_OK)
            run(&m);
    }
    free(copy);
    return 0;
}
