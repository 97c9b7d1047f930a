/* The exporter: the device model file from a quantised model, its memory and
 * size accounting, and the ways it is written out (a file, a C array).
 *
 * There is one code path that produces model bytes: tm_lower (quant/), the
 * one the integer simulation measured. Exporting lowers the same tm_qat again
 * with input records that take raw inputs (PCM through the runtime's audio
 * front end, image pixels) and checks that nothing but the input records
 * changed (docs/deployment.md). */
#ifndef TM_EXPORT_H
#define TM_EXPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tm_lower.h"
#include "tm_rt_model.h"

/* Room for an output path and its temporary suffix. */
#define TM_EXPORT_PATH_CAP 4400

/* An input record that runs the runtime's audio front end on raw PCM
 * (TM_RT_INPUT_AUDIO with the front-end fields of fe). */
void tm_export_audio_input(const tm_rt_frontend_config *fe, tm_rt_input_desc *in);
/* An input record for image pixels 0..1, CHW (TM_RT_INPUT_IMAGE). */
void tm_export_image_input(tm_rt_input_desc *in);

/* Lowers q with o (inputs as o gives them; the form the integer simulation
 * runs). When simulated is non-NULL (the quantize command's model.tm2n) the
 * result must compute exactly what it computes: the same tensor shapes and
 * quantisation, op records, weights blob, class names and input records;
 * only the memory plan (arena offsets and sizes) may differ, as another
 * runtime build may plan it another way. Then, when raw is non-NULL, lowers
 * again with raw[b] as branch b's input record (NULL entries keep o's),
 * after checking that an audio record's front end gives the branch's input
 * shape, and requires the same of that file except the input kinds and
 * front-end fields. The result passes tm_rt_model_open. *bytes is malloc'd
 * (4-byte aligned); the caller frees it. */
tm_status tm_export_lower(const tm_qat *q, const tm_lower_options *o,
                          const tm_rt_input_desc *const *raw, const void *simulated,
                          size_t simulated_size, uint8_t **bytes, size_t *size);

/* The target builds whose RAM export reports: a tm_rt_isa each, and a name. */
#define TM_EXPORT_TARGETS 8
typedef struct {
    int isa;
    const char *name, *cores;
} tm_export_target;
extern const tm_export_target tm_export_targets[TM_EXPORT_TARGETS];

/* Size and memory accounting of an opened model (docs/deployment.md,
 * "What the numbers mean"). */
typedef struct tm_export_stats {
    size_t file_bytes;          /* flash: the whole file */
    uint32_t arena_bytes;       /* activations as planned */
    uint32_t scratch_bytes;     /* the file's kernel scratch (bound over builds) */
    uint32_t scratch_need;      /* this build's kernel scratch, in memory_bytes */
    uint32_t workspace_bytes;   /* audio front end (tables, state, float features) */
    size_t memory_bytes;        /* tm_rt_model_memory_bytes: the block invoke needs here */
    size_t ram_for[TM_EXPORT_TARGETS]; /* the same on each target build (tm_export_targets) */
    /* The same model planned with every tensor in the arena (no streamed
     * chains; equal to the above for a file without them). */
    uint32_t unstreamed_arena_bytes;
    size_t unstreamed_ram_for[TM_EXPORT_TARGETS];
    int streamed_tensors;       /* tensors the plan never stores whole */
    uint64_t peak_live_bytes;   /* largest sum of stored activations live at one op step */
    uint64_t macs;              /* multiply-accumulates per inference */
    uint64_t weight_bits_bytes; /* sum over weight ops of ceil(bits * weights / 8) */
    uint64_t param_bytes;       /* 4 per bias + 8 per (mult, shift) pair */
    uint64_t lower_bound;       /* weight_bits_bytes + param_bytes */
    uint64_t fixed_bytes;       /* header, records and class names */
    double ratio;               /* file_bytes / (lower_bound + fixed_bytes) */
    double blob_ratio;          /* (file_bytes - fixed_bytes) / lower_bound */
    int n_ops, weight_ops, ops8, ops4;
    long long params8, params4; /* weights at 8 and at 4 bits */
} tm_export_stats;

/* Multiply-accumulates of one op (0 for ops without weights). */
uint64_t tm_export_op_macs(const tm_rt_model *m, uint32_t op);
/* The same model with every tensor in the arena (no streamed chains), for
 * hosts where RAM is plenty and speed matters: *bytes is replaced by a
 * malloc'd copy (freed by the caller; the old one is freed here) when the
 * model streams, else left as it is. */
tm_status tm_export_plan_flat(uint8_t **bytes, size_t *size);
void tm_export_stats_of(const tm_rt_model *m, tm_export_stats *s);
void tm_export_print_stats(FILE *f, const tm_export_stats *s);

/* Writes n bytes to path through path.tmp and a rename, so a reader never
 * sees a partial file. */
tm_status tm_export_write_file(const char *path, const void *bytes, size_t n);
/* The same bytes as a C header: `static const uint8_t SYMBOL[SYMBOL_LEN]`,
 * 16-byte aligned, with #define SYMBOL_LEN and SYMBOL_CRC32; written
 * atomically. symbol must be a C identifier (tm_export_symbol makes one);
 * note is a one-line provenance comment (may be NULL). */
tm_status tm_export_write_c_array(const char *path, const char *symbol, const void *bytes,
                                  size_t n, const char *note);
/* The model file and, when c_array is not NULL, its C array (symbol, note as
 * above), replaced as one unit (tm_file_set): both old or both new, also
 * after a kill, once the next export or tinym2net-run of model has finished
 * an interrupted replacement. */
tm_status tm_export_write_outputs(const char *model, const char *c_array, const char *symbol,
                                  const void *bytes, size_t n, const char *note);
/* A C identifier from a file name: its base name without the extension,
 * non-identifier characters as '_', a leading digit prefixed with '_'. */
void tm_export_symbol(const char *path, char *buf, size_t n);

#endif
