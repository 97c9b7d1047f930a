/* A device program in an outside project, built against an installed
 * runtime (find_package(TinyM2NetRuntime) or pkg-config tinym2net-runtime;
 * tests/test_install.sh builds it for the host and for Cortex-M4). The model
 * is linked in as a C array (`tinym2net export ... --c-array model.h
 * --symbol tm_model`), the inputs too (inputs.h from
 * runtime/tools/cortexm/tmri_to_c.py), so nothing is read from files.
 *
 * Prints what runtime/tools/tm_rt_run_inputs.c prints for the same model
 * and inputs ("row,<classes>", then "r,l0,l1,..."), then "class,r,index,name"
 * per row, "isa,<tm_rt_kernels_isa()>" and "open,<status>,<reason>" for a
 * copy cut short, which shows whether the runtime was built with messages.
 * Output on stdout, or over semihosting with CONSUMER_SEMIHOST (QEMU). */
#include <stdint.h>
#include <string.h>

#include "inputs.h"
#include "model.h"
#include "tm_rt_kernels.h"
#include "tm_rt_model.h"

#if defined(CONSUMER_SEMIHOST)
#include "semihost.h"
static void put(const char *s) { tm_cm_write(s); }
static void put_int(long v) { tm_cm_write_int(v); }
#else
#include <stdio.h>
static void put(const char *s) { fputs(s, stdout); }
static void put_int(long v) { printf("%ld", v); }
#endif

#ifndef CONSUMER_MEMORY_BYTES
#define CONSUMER_MEMORY_BYTES (64u * 1024u)
#endif

static uint8_t memory[CONSUMER_MEMORY_BYTES];
static float row_in[CM_ROW_FLOATS];

static int fail(const char *what, const char *why)
{
    put("consumer: ");
    put(what);
    put(": ");
    put(why);
    put("\n");
    return 1;
}

static void put_name(const char *name)
{
    char buf[TM_RT_NAME_LEN + 1];
    memcpy(buf, name, TM_RT_NAME_LEN);
    buf[TM_RT_NAME_LEN] = '\0';
    put(buf);
}

int main(void)
{
    tm_rt_model m;
    if (tm_rt_model_open(&m, tm_model, TM_MODEL_LEN) != TM_RT_OK)
        return fail("model", tm_rt_model_error(&m));
    if (tm_rt_model_memory_bytes(&m) > sizeof memory)
        return fail("model", "needs more than CONSUMER_MEMORY_BYTES");
    if (m.n_inputs != CM_INPUTS)
        return fail("inputs", "their count differs from the model's");
    for (uint32_t i = 0; i < CM_INPUTS; i++)
        if (cm_input_kind[i] != (uint32_t)m.inputs[i].kind ||
            cm_input_count[i] != tm_rt_model_input_floats(&m, (int)i))
            return fail("inputs", "an input's kind or size differs from the model's");

    static int best[CM_ROWS];
    put("row");
    for (uint32_t c = 0; c < m.n_classes; c++) {
        put(",");
        put_name(m.class_names[c]);
    }
    put("\n");
    for (uint32_t r = 0; r < CM_ROWS; r++) {
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
        const int8_t *logits = tm_rt_model_logits(&m, memory);
        put_int((long)r);
        best[r] = 0;
        for (uint32_t c = 0; c < m.n_classes; c++) {
            put(",");
            put_int(logits[c]);
            if (logits[c] > logits[best[r]])
                best[r] = (int)c;
        }
        put("\n");
    }
    for (uint32_t r = 0; r < CM_ROWS; r++) {
        put("class,");
        put_int((long)r);
        put(",");
        put_int(best[r]);
        put(",");
        put_name(m.class_names[best[r]]);
        put("\n");
    }
    put("isa,");
    put(tm_rt_kernels_isa());
    put("\n");

    /* The header's file_bytes no longer matches: refused with a reason. */
    tm_rt_model cut;
    tm_rt_status s = tm_rt_model_open(&cut, tm_model, TM_MODEL_LEN - 4);
    put("open,");
    put(tm_rt_status_name(s));
    put(",");
    put(tm_rt_model_error(&cut));
    put("\n");
    return s == TM_RT_ERR_FORMAT ? 0 : fail("open", "a cut model was not refused as malformed");
}
