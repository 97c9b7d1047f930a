/* Runs the model linked in from `tinym2net export --c-array` (cm_model.h,
 * symbol cm_model) on the raw inputs linked in from cm_inputs.h
 * (tmri_to_c.py), on a Cortex-M core under QEMU: the audio front end,
 * standardisation, quantisation and the network all run on the device.
 * Prints what runtime/tools/tm_rt_run_inputs.c prints on the host, "row,"
 * the class names, then "r,l0,l1,..." per row, so the two compare byte for
 * byte. CM_RUN_ROWS (default all) lets the instruction counter
 * (runtime/tools/bench_device.sh) run 1 and 3 rows and take the difference;
 * with CM_PRINT_MEMORY it prints only "memory N": tm_rt_model_memory_bytes
 * on the device (parity.sh, docs/deployment.md's RAM table). */
#include <stdint.h>
#include <string.h>

#include "cm_inputs.h"
#include "cm_model.h"
#include "semihost.h"
#include "tm_rt_model.h"

#ifndef CM_MEMORY_BYTES
#define CM_MEMORY_BYTES (512u * 1024u)
#endif
#ifndef CM_RUN_ROWS
#define CM_RUN_ROWS CM_ROWS
#endif

static uint8_t memory[CM_MEMORY_BYTES] __attribute__((aligned(16)));
static float row_in[CM_ROW_FLOATS];


static int fail(const char *what, const char *why)
{
    tm_cm_write("cortexm: ");
    tm_cm_write(what);
    tm_cm_write(": ");
    tm_cm_write(why);
    tm_cm_write("\n");
    return 1;
}

int main(void)
{
    tm_rt_model m;
    if (tm_rt_model_open(&m, cm_model, CM_MODEL_LEN) != TM_RT_OK)
        return fail("model", tm_rt_model_error(&m));
    if (tm_rt_model_memory_bytes(&m) > sizeof memory)
        return fail("model", "needs more memory than CM_MEMORY_BYTES");
#ifdef CM_PRINT_MEMORY
    tm_cm_write("memory ");
    tm_cm_write_int((long)tm_rt_model_memory_bytes(&m));
    tm_cm_write("\n");
    return 0;
#endif
    if (m.n_inputs != CM_INPUTS)
        return fail("inputs", "their count differs from the model's");
    for (uint32_t i = 0; i < CM_INPUTS; i++)
        if (cm_input_kind[i] != (uint32_t)m.inputs[i].kind ||
            cm_input_count[i] != tm_rt_model_input_floats(&m, (int)i))
            return fail("inputs", "an input's kind or size differs from the model's");
    tm_cm_write("row");
    for (uint32_t c = 0; c < m.n_classes; c++) {
        char name[TM_RT_NAME_LEN + 1];
        memcpy(name, m.class_names[c], TM_RT_NAME_LEN);
        name[TM_RT_NAME_LEN] = '\0';
        tm_cm_write(",");
        tm_cm_write(name);
    }
    tm_cm_write("\n");
    for (uint32_t r = 0; r < CM_RUN_ROWS; r++) {
        /* the float bits as the host wrote them */
        memcpy(row_in, &cm_inputs[(size_t)r * CM_ROW_FLOATS], sizeof row_in);
        for (uint32_t i = 0; i < CM_INPUTS; i++) {
            const float *x = row_in + cm_input_offset[i];
            int k = m.inputs[i].kind;
            tm_rt_status s = k == TM_RT_INPUT_AUDIO   ? tm_rt_model_set_audio(&m, memory, (int)i, x)
                             : k == TM_RT_INPUT_IMAGE ? tm_rt_model_set_image(&m, memory, (int)i, x)
                                                      : tm_rt_model_set_features(&m, memory, (int)i, x);
            if (s != TM_RT_OK)
                return fail("input", tm_rt_status_name(s));
        }
        tm_rt_status s = tm_rt_model_invoke(&m, memory);
        if (s != TM_RT_OK)
            return fail("invoke", tm_rt_status_name(s));
        const int8_t *l = tm_rt_model_logits(&m, memory);
        tm_cm_write_int((long)r);
        for (uint32_t c = 0; c < m.n_classes; c++) {
            tm_cm_write(",");
            tm_cm_write_int(l[c]);
        }
        tm_cm_write("\n");
    }
    return 0;
}
