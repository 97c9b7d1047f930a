/* From a calibrated (and possibly QAT-tuned) model to the runtime's model
 * bytes, through the runtime's own builder; and the integer simulation,
 * which runs those bytes with the runtime's executor, so the training side
 * measures exactly what the device computes. */
#ifndef TM_LOWER_H
#define TM_LOWER_H

#include <stdint.h>
#include <stdio.h>

#include "tm_qat.h"
#include "tm_rt_model.h"

typedef struct tm_lower_options {
    /* Per branch, the device input record: its kind and front end (all
     * zeros: a TM_RT_INPUT_FEATURES input), its standardisation
     * x' = (x - mean) / std (std 0 = none), which the runtime applies, and
     * its fit and column. Name and tensor are filled in here. */
    tm_rt_input_desc input[TM_MAX_BRANCHES];
    /* n_classes names (at most TM_RT_NAME_LEN - 1 bytes are kept), or NULL
     * for "0", "1", ... */
    const char *const *class_names;
    /* The manifest's label column for the file header, or NULL. */
    const char *label_column;
} tm_lower_options;

/* Lowers the branches, the fusion and the head: per-channel integer
 * weights (packed at each layer's precision), int32 biases
 * round(b / (s_in * s_w)), Q31 multipliers of s_in * s_w / s_out, ReLU /
 * ReLU6 clamps, requantising concatenation. *bytes is malloc'd (4-byte
 * aligned); the caller frees it. */
tm_status tm_lower(const tm_qat *q, const tm_lower_options *o, uint8_t **bytes, size_t *size);

/* ---- integer simulation ------------------------------------------------ */

typedef struct tm_qsim {
    tm_rt_model model;
    void *mem;               /* tm_rt_model_memory_bytes, malloc'd */
    int branch_of[TM_RT_MAX_MODEL_INPUTS]; /* model input -> branch, by name */
} tm_qsim;

/* Opens bytes (kept alive by the caller) with tm_rt_model_open; m names
 * the branches the inputs feed. */
tm_status tm_qsim_open(tm_qsim *s, const tm_model *m, const void *bytes, size_t size);
void tm_qsim_close(tm_qsim *s);
/* Softmax scores (n * classes) of every sample of d, whose features are
 * standardised as in training (the expression of the runtime's setters):
 * each is quantised into its input tensor, then tm_rt_model_invoke and
 * tm_rt_model_scores. logits (n * classes int8) may be NULL. */
tm_status tm_qsim_predict(tm_qsim *s, const tm_qat_data *d, float *probs, int8_t *logits);

/* ---- size report ------------------------------------------------------- */

typedef struct tm_size_row {
    char name[TM_LAYER_NAME];
    const char *kind;
    long params;         /* float parameters, folded batch norm included */
    int bits;
    long packed_bytes;   /* as the model file stores them: packed weights (4-aligned),
                          * int32 biases, int32 multiplier and shift per channel */
    long macs;
} tm_size_row;

typedef struct tm_size_totals {
    int rows;            /* weight layers */
    long params;
    long float_bytes;    /* every trained parameter as float32 */
    long packed_bytes;
    long macs;
} tm_size_totals;

/* One row per weight layer of the branches and the head; rows may
 * be NULL (totals only), else it holds at least cap rows. */
tm_status tm_size_rows(const tm_qat *q, tm_size_row *rows, int cap, tm_size_totals *tot);
/* The same into *rows, malloc'd for them (the caller frees it; NULL on failure). */
tm_status tm_size_rows_alloc(const tm_qat *q, tm_size_row **rows, tm_size_totals *tot);
/* The table of tm_size_rows with totals and the compression ratio. */
tm_status tm_size_report(const tm_qat *q, FILE *f);

#endif
