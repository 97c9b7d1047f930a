/* Streamed chains on a Cortex-M core under QEMU: every shape of
 * tm_rt_ex_chain_specs (runtime/tools/tm_rt_example_model.h), built on the
 * device, runs streamed (the DSP kernels on row windows) and flat, and the
 * chain's last tensor must be the same bytes, with every byte past the
 * streamed plan's memory untouched: the device's side of
 * tests/test_rt_scratch.c's partial_calls_match_the_flat_plan. Each shape
 * runs as it is (the DSP build keeps it narrow: one row a call) and after
 * a stored 3x3 conv (head), whose scratch the -O2 builds' chains widen
 * into, so their last calls are partial. Prints one line per run and
 * exits 1 on any difference (parity.sh). */
#include <stdint.h>
#include <string.h>

#include "semihost.h"
#include "tm_rt_example_model.h"

#define CM_GUARD 64u

static tm_rt_builder builder;
static uint32_t file_buf[TM_RT_EXAMPLE_MAX_BYTES / 4];
static uint8_t memory[256u * 1024u + CM_GUARD] __attribute__((aligned(16)));
static float features[16384];
static int8_t kept_bytes[2][8192];

static int fail(long run, const char *why)
{
    tm_cm_write("cortexm chains: run ");
    tm_cm_write_int(run);
    tm_cm_write(": ");
    tm_cm_write(why);
    tm_cm_write("\n");
    return 1;
}

/* Builds shape sp with flags, runs it on seed 3's features in exactly its
 * memory and copies its kept tensor to out; *n its bytes; NULL or why not. */
static const char *run(const tm_rt_ex_chain_spec *sp, uint32_t flags, int8_t *out, size_t *n)
{
    static tm_rt_model m;
    size_t size = 0, offs[TM_RT_MAX_MODEL_INPUTS];
    int32_t kept = -1;
    if (tm_rt_example_chain_spec(&builder, file_buf, sizeof file_buf, sp, flags, &size, &kept) != TM_RT_OK)
        return tm_rt_builder_error(&builder);
    if (tm_rt_model_open(&m, file_buf, size) != TM_RT_OK)
        return tm_rt_model_error(&m);
    size_t mb = tm_rt_model_memory_bytes(&m);
    if (mb + CM_GUARD > sizeof memory)
        return "needs more memory than the harness has";
    memset(memory, 0x5A, sizeof memory);
    tm_rt_example_inputs(&m, 3, features, sizeof features / sizeof features[0], offs);
    if (tm_rt_model_set_features(&m, memory, 0, features) != TM_RT_OK || tm_rt_model_invoke(&m, memory) != TM_RT_OK)
        return "the invoke failed";
    const tm_rt_tensor_desc *d = &m.tensors[kept];
    *n = (size_t)d->c * (size_t)d->h * (size_t)d->w;
    if (*n > sizeof kept_bytes[0])
        return "its last tensor is larger than the harness keeps";
    memcpy(out, tm_rt_model_tensor(&m, memory, kept), *n);
    /* memory is 16-aligned: the layout ends 15 bytes before mb */
    for (size_t j = mb - 15; j < mb + CM_GUARD; j++)
        if (memory[j] != 0x5A)
            return "a byte past its memory was written";
    return NULL;
}

int main(void)
{
    int bad = 0;
    for (int i = 0; i < 2 * TM_RT_EX_CHAIN_SPECS; i++) {
        tm_rt_ex_chain_spec sp = tm_rt_ex_chain_specs[i % TM_RT_EX_CHAIN_SPECS];
        size_t ns = 0, nf = 0;
        const char *why;
        sp.head = i < TM_RT_EX_CHAIN_SPECS ? 0 : sp.cin; /* the chain's own shapes */
        why = run(&sp, TM_RT_FLAG_STREAM, kept_bytes[0], &ns);
        if (!why)
            why = run(&sp, 0, kept_bytes[1], &nf);
        if (!why && (ns != nf || memcmp(kept_bytes[0], kept_bytes[1], ns) != 0))
            why = "the streamed and flat plans' bytes differ";
        if (why) {
            bad |= fail(i, why);
            continue;
        }
        tm_cm_write("cortexm chains: shape ");
        tm_cm_write_int(i % TM_RT_EX_CHAIN_SPECS);
        tm_cm_write(sp.head ? " after a stored conv: " : ": ");
        tm_cm_write_int((long)ns);
        tm_cm_write(" bytes, streamed = flat\n");
    }
    return bad;
}
