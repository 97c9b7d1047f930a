/* tinym2net quantize: calibration, optional QAT, lowering to the runtime's
 * model bytes and evaluation by integer simulation (docs/quantization.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tm_cli.h"
#include "tm_fs.h"
#include "tm_qrun.h"
#include "tm_run_folder.h"

#define MAX_SETS 64

static void help(FILE *f)
{
    fprintf(f,
            "usage: tinym2net quantize RUN_DIR --out QDIR [options]\n\n"
            "Quantises a trained run (RUN_DIR/model.h5): calibrates activation ranges on\n"
            "training batches, optionally fine-tunes with quantisation-aware training,\n"
            "lowers the model to the integer runtime's format and evaluates it on the test\n"
            "split by running those bytes through the runtime. Writes QDIR/model.tm2n,\n"
            "QDIR/qmodel.h5 (tuned weights and ranges) and QDIR/metrics.json, and prints\n"
            "a size report.\n\n"
            "options:\n"
            "  --out DIR           output folder (required)\n"
            "  --preset NAME       paper: first layer of each branch and last of the head\n"
            "                      8-bit, the rest 4-bit; all8; all4 (default: each layer's\n"
            "                      `bits` key, 8 when absent; the shipped fused-compressed\n"
            "                      experiments set the paper's 8/4 there)\n"
            "  --qat-epochs N      quantisation-aware fine-tuning epochs (default 3; 0 =\n"
            "                      post-training quantisation only)\n"
            "  --calib-batches N   training batches observed for calibration (default 100;\n"
            "                      0 = the whole training split)\n"
            "  --set SEC.KEY=VAL   override a key of the stored experiment (e.g. data paths)\n"
            "  --threads N         worker threads\n"
            "  --quiet             no progress output\n"
            "  --force             replace the outputs of a QDIR that already holds them\n"
            "  --help              this text\n");
}

typedef struct {
    const char *preset;
    int qat_epochs, calib_batches;
    double float_acc, ptq_acc, fake_acc, sim_acc;
    size_t file_bytes;
} summary;

static tm_status write_metrics(const char *dir, const tm_experiment *e, const tm_qat *q,
                               const summary *sm, const tm_metrics *met, const tm_splits *data)
{
    json_t *h = json_object();
    int bad = !h;
    bad |= tm_json_set_str(h, "preset", sm->preset ? sm->preset : "");
    bad |= tm_json_set_int(h, "qat_epochs", sm->qat_epochs);
    bad |= tm_json_set_int(h, "calib_batches", sm->calib_batches);
    bad |= tm_json_set_num(h, "float_test_accuracy", sm->float_acc, 6);
    bad |= tm_json_set_num(h, "ptq_test_accuracy", sm->ptq_acc, 6);
    bad |= tm_json_set_num(h, "fake_quant_test_accuracy", sm->fake_acc, 6);
    /* test_accuracy, test_macro_f1, ...: the integer simulation's */
    tm_run_metrics mt = {.experiment = e->name, .variant = "quantized", .head = h, .data = data,
                         .q = q, .model_file_bytes = sm->file_bytes, .test = met};
    return tm_run_write_metrics(dir, &mt, bad);
}

/* ---- the command ------------------------------------------------------- */

typedef struct {
    const char *run_dir, *out_dir, *preset;
    int qat_epochs, calib_batches, quiet, force;
    const char *sets[MAX_SETS];
    int n_sets;
} options;

static tm_status run(const options *o, tm_qrun *r, tm_metrics *met)
{
    FILE *out = o->quiet ? NULL : stderr;
    TM_TRY(tm_qrun_open(r, o->run_dir, o->sets, o->n_sets));
    tm_experiment *e = &r->e;
    summary sm;
    memset(&sm, 0, sizeof sm);
    sm.preset = o->preset;
    sm.qat_epochs = o->qat_epochs;
    sm.calib_batches = o->calib_batches;
    TM_TRY(tm_qrun_float_accuracy(r, &sm.float_acc));
    if (o->preset)
        TM_TRY(tm_qat_preset(r->q, o->preset));
    TM_TRY(tm_qrun_calibrate(r, o->calib_batches));
    TM_TRY(tm_qrun_simulate(r, &r->test, &sm.ptq_acc, NULL));
    if (out)
        fprintf(out, "float test accuracy %.4f; after calibration (%s) integer %.4f\n",
                sm.float_acc, o->preset ? o->preset : "layer bits", sm.ptq_acc);
    TM_TRY(tm_qrun_finetune(r, o->qat_epochs, out));
    TM_TRY(tm_qat_predict(r->q, r->pool, &r->test, r->probs));
    sm.fake_acc = tm_qrun_accuracy(r->probs, r->test.label, r->test.n, r->m->spec.n_classes);
    TM_TRY(tm_qrun_simulate(r, &r->test, &sm.sim_acc, met));
    sm.file_bytes = r->size;
    if (out)
        fprintf(out, "test accuracy: float %.4f, fake quant %.4f, integer (runtime) %.4f\n",
                sm.float_acc, sm.fake_acc, sm.sim_acc);

    /* The three outputs change together (tm_outdir). */
    tm_outdir od;
    TM_TRY(tm_outdir_begin(&od, o->out_dir));
    tm_status s = tm_qrun_save(r, od.stage, o->preset);
    if (s == TM_OK)
        s = write_metrics(od.stage, e, r->q, &sm, met, &r->data);
    if (s != TM_OK) {
        tm_outdir_abort(&od);
        return s;
    }
    TM_TRY(tm_outdir_commit(&od));
    printf("quantized %s (%s):\n", e->name, o->preset ? o->preset : "layer bits");
    TM_TRY(tm_size_report(r->q, stdout));
    printf("  model file %zu bytes\n", sm.file_bytes);
    printf("test accuracy: float %.4f, integer %.4f (%+.2f points)\n", sm.float_acc, sm.sim_acc,
           100.0 * (sm.sim_acc - sm.float_acc));
    printf("wrote %s/model.tm2n, qmodel.h5, metrics.json\n", o->out_dir);
    return TM_OK;
}

int tm_cmd_quantize(int argc, char **argv)
{
    static const char *const presets[] = {"paper", "all8", "all4", NULL};
    options o;
    memset(&o, 0, sizeof o);
    o.qat_epochs = 3;
    o.calib_batches = 100;
    char threads_set[64];
    tm_cli_list set_list = {o.sets, 0, MAX_SETS};
    const tm_cli_option opts[] = {
        TM_CLI_STRING("--out", "-o", &o.out_dir),
        TM_CLI_CHOICE("--preset", &o.preset, presets),
        TM_CLI_INT("--qat-epochs", &o.qat_epochs, 0, 100000),
        TM_CLI_INT("--calib-batches", &o.calib_batches, 0, 100000),
        TM_CLI_LIST("--set", &set_list),
        TM_CLI_LIST_PREFIX("--threads", &set_list, "experiment.threads=", threads_set),
        TM_CLI_FLAG("--quiet", "-q", &o.quiet),
        TM_CLI_FLAG("--force", NULL, &o.force),
        {0},
    };
    int rc = tm_cli_parse("quantize", help, opts, argc, argv, &o.run_dir, 1);
    if (rc)
        return rc == TM_CLI_HELP ? 0 : rc;
    if (!o.out_dir) {
        fprintf(stderr, "tinym2net quantize: --out QDIR is required\n");
        return 2;
    }
    if (tm_cli_check_out("quantize", o.out_dir, "model.tm2n", "a quantised model", o.force))
        return 1;
    o.n_sets = set_list.n;
    tm_qrun r;
    tm_metrics met;
    memset(&r, 0, sizeof r);
    memset(&met, 0, sizeof met);
    tm_status s = run(&o, &r, &met);
    tm_metrics_free(&met);
    tm_qrun_close(&r);
    return s == TM_OK ? 0 : tm_cli_fail("quantize");
}
