/* Run folders: what `train` writes and `quantize`, `search`, `eval`,
 * `export` and the benchmarks open (docs/architecture.md).
 *
 * A training run holds model.h5: the weights and running statistics
 * (model/<layer>/<what>), the input standardisation (input/<branch>/mean
 * and /std, absent when the run has none), the experiment text (attribute
 * `experiment`) and `format_version`; checkpoint.h5 is the same layout plus
 * the optimiser state (tm_train.c); log.csv; metrics.json.
 * A quantised run holds qmodel.h5 (model.h5's layout plus the quantisation
 * state of tm_qat_store and the attribute `quant_preset`), model.tm2n (the
 * runtime's file, which also carries the class names) and metrics.json.
 * Files are written under a temporary name and renamed (tm_fs.h). */
#ifndef TM_RUN_FOLDER_H
#define TM_RUN_FOLDER_H

#include <stdint.h>

#include "tm_fs.h"

#include "tm_checkpoint.h"
#include "tm_data_load.h"
#include "tm_experiment.h"
#include "tm_json_io.h"
#include "tm_lower.h"
#include "tm_metrics.h"
#include "tm_model.h"
#include "tm_qat.h"
#include "tm_rt_model.h"

/* ---- the HDF5 layout, also the checkpoint's ---------------------------- */

/* Arrays PREFIX/<layer>/<what> of ps (alt[i] instead of ps[i]'s data when
 * alt is not NULL: the optimiser's moments). */
tm_status tm_run_put_params(tm_ckpt_writer *w, const char *prefix, const tm_param *ps, int n,
                            float *const *alt);
tm_status tm_run_get_params(tm_ckpt_reader *r, const char *prefix, const tm_param *ps, int n,
                            float *const *alt);
/* The standardisation (when mean and std are not NULL), parameters and
 * buffers, q's state (when not NULL), the experiment text, quant_preset
 * (when q is not NULL; "" for a NULL preset) and format_version, in that
 * order. */
tm_status tm_run_put_model(tm_ckpt_writer *w, const tm_model *m, const char *text,
                           const float *mean, const float *std, const tm_qat *q,
                           const char *preset);

/* ---- saving ------------------------------------------------------------ */

/* model.h5 of a training run; mean and std (per branch, may be NULL) are
 * the input standardisation the device must apply. */
tm_status tm_model_save(const tm_model *m, const char *experiment_text, const float *mean,
                        const float *std, const char *path);
/* A quantised run's model files into dir: model.tm2n (n bytes) and then
 * qmodel.h5 (m with q's state, quant_preset = preset). */
tm_status tm_run_save_quantised(const char *dir, const uint8_t *tm2n, size_t n,
                                const tm_model *m, const tm_qat *q,
                                const char *experiment_text, const float *mean,
                                const float *std, const char *preset);

/* One run folder's metrics.json. Members in this order: experiment,
 * variant, `head`'s, rows_skipped, `mid`'s, for a quantised run (q not
 * NULL) the size members (tm_run_size_json), the test metrics test_*,
 * `tail`'s. head, mid and tail are stolen and may be NULL. */
typedef struct tm_run_metrics {
    const char *experiment, *variant;
    json_t *head, *mid, *tail;
    const tm_splits *data;    /* rows_skipped and the class names */
    const tm_qat *q;
    size_t model_file_bytes;
    const tm_metrics *test;
} tm_run_metrics;
/* Writes DIR/metrics.json atomically; bad (a builder's failure) is an
 * out-of-memory error. */
tm_status tm_run_write_metrics(const char *dir, const tm_run_metrics *mt, int bad);
/* The size members, added to obj: weight_bytes, float_weight_bytes,
 * compression, model_file_bytes, macs_per_sample, bits ({layer: bits}) and
 * layers ([{name, type, params, bits, packed_bytes, macs}]). */
tm_status tm_run_size_json(json_t *obj, const tm_qat *q, size_t model_file_bytes);

/* ---- opening ----------------------------------------------------------- */

/* The "experiment" attribute of a model, quantised-model or checkpoint
 * file (caller frees *text). */
tm_status tm_read_experiment_text(const char *path, char **text);
/* That experiment, parsed with the "section.key=value" overrides sets. */
tm_status tm_run_read_experiment(tm_experiment *e, const char *path, const char *const *sets,
                                 int n_sets);
/* Weights and running statistics of path into m (built for its experiment). */
tm_status tm_model_load_weights(tm_model *m, const char *path);
/* The input standardisation of path per branch of m; 0, 0 for a branch
 * the file has none for. */
tm_status tm_run_read_standardisation(const char *path, const tm_model *m, float *mean,
                                      float *std);
/* e's model (its classes set) with path's weights, statistics and
 * standardisation; when q is not NULL also path's quantisation state
 * (a qmodel.h5). The caller frees *m and *q, also on failure. */
tm_status tm_run_load_model(const char *path, const tm_experiment *e, tm_model **m,
                            float *mean, float *std, tm_qat **q);
/* A quantised run opened as it was written: model.tm2n on the runtime, the
 * experiment, the model with its quantisation state, and what lowering it
 * again needs (standardisation and model.tm2n's class names in lo). */
typedef struct tm_qrun_folder {
    uint8_t *tm2n;            /* QDIR/model.tm2n */
    size_t tm2n_size;
    tm_rt_model rt;           /* opened on tm2n */
    tm_experiment e;
    int have_e;
    tm_model *m;
    tm_qat *q;
    tm_lower_options lo;
    char class_buf[TM_RT_MAX_CLASSES][TM_RT_NAME_LEN];
    const char *class_names[TM_RT_MAX_CLASSES];
} tm_qrun_folder;
/* The input records a device model takes raw inputs through, as `export`
 * writes them: an audio branch PCM through the runtime's front end, an
 * image branch pixels 0..1, each naming its manifest column and (audio) the
 * fit rule. A branch of ready features keeps its features input (rawp[b]
 * NULL). *n_raw: how many are raw. */
tm_status tm_run_raw_inputs(const tm_experiment *e, const tm_model *m, tm_rt_input_desc *raw,
                            const tm_rt_input_desc **rawp, int *n_raw);
/* On failure the caller still calls tm_qrun_folder_close. */
tm_status tm_qrun_folder_open(tm_qrun_folder *f, const char *qdir);
void tm_qrun_folder_close(tm_qrun_folder *f);

#endif
