/* A trained run opened for quantisation: the pieces `tinym2net quantize`
 * and `tinym2net search` share (docs/quantization.md). Opening reads
 * RUN_DIR/model.h5 (weights, experiment text, input standardisation),
 * rebuilds the data splits and creates the model's QAT state; the calls
 * below calibrate it, fine-tune it, lower it and run the integer
 * simulation, and save it (tm_run_folder.h). */
#ifndef TM_QRUN_H
#define TM_QRUN_H

#include <stdint.h>
#include <stdio.h>

#include "tm_data_load.h"
#include "tm_experiment.h"
#include "tm_lower.h"
#include "tm_metrics.h"
#include "tm_qat.h"
#include "tm_run_folder.h"

typedef struct tm_qrun {
    tm_experiment e;
    tm_splits data;
    tm_model *m;
    tm_qat *q;                         /* all layers at their `bits` key */
    tm_pool *pool;
    float mean[TM_MAX_BRANCHES], std[TM_MAX_BRANCHES]; /* per branch */
    int map[TM_MAX_BRANCHES];          /* branch -> data modality */
    tm_qat_data train, val, test;      /* views of data */
    tm_lower_options lo;               /* standardisation and class names */
    const char *class_names[256];
    float *probs;                      /* room for the larger of val and test */
    uint8_t *bytes;                    /* the last lowering (tm_qrun_simulate) */
    size_t size;
    tm_qsim sim;                       /* open on bytes */
    /* internal */
    int have_e, have_data, have_sim, have_tape;
    tm_optimizer *opt;
    tm_tape tape;
    tm_dataset aug;
} tm_qrun;

/* sets: "section.key=value" overrides of the stored experiment. On failure
 * the caller still calls tm_qrun_close. */
tm_status tm_qrun_open(tm_qrun *r, const char *run_dir, const char *const *sets, int n_sets);
/* The same from a file in model.h5's layout (a quantised run's qmodel.h5). */
tm_status tm_qrun_open_file(tm_qrun *r, const char *model_path, const char *const *sets,
                            int n_sets);
void tm_qrun_close(tm_qrun *r);

/* Top-1 accuracy of n rows of k scores. */
double tm_qrun_accuracy(const float *probs, const int *labels, int n, int k);
/* The float model's test accuracy. */
tm_status tm_qrun_float_accuracy(tm_qrun *r, double *acc);
/* Observes calib_batches shuffled training batches (0 = all), seeded from
 * the experiment's seed, then switches r->q to fake quantisation. */
tm_status tm_qrun_calibrate(tm_qrun *r, int calib_batches);
/* Lowers r->q into r->bytes, opens it on the runtime and runs d through it:
 * scores into r->probs, accuracy into *acc, full metrics into met when not
 * NULL. */
tm_status tm_qrun_simulate(tm_qrun *r, const tm_qat_data *d, double *acc, tm_metrics *met);
/* `epochs` epochs of QAT with a fresh Adam (the experiment's Adam settings,
 * default Adam for SGD runs) at lr / 10, the run's class weights and
 * augmentation; every call starts from the same seeds. progress: one line
 * per epoch, NULL = quiet. */
tm_status tm_qrun_finetune(tm_qrun *r, int epochs, FILE *progress);
/* The quantised run into dir: r->bytes as model.tm2n and qmodel.h5
 * (tm_run_save_quantised, quant_preset = preset). */
tm_status tm_qrun_save(const tm_qrun *r, const char *dir, const char *preset);

#endif
