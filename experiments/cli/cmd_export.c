/* tinym2net export: the device model file (and C array) from a quantize
 * output folder (docs/deployment.md). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tm_cli.h"
#include "tm_export.h"
#include "tm_json.h"
#include "tm_run_folder.h"

static void help(FILE *f)
{
    fprintf(f,
            "usage: tinym2net export QDIR -o MODEL [--c-array FILE.h] [options]\n\n"
            "Writes the device model of a `tinym2net quantize` folder. The model is rebuilt\n"
            "from QDIR/qmodel.h5 by the lowering that made QDIR/model.tm2n, checked to\n"
            "compute exactly what model.tm2n (the integer simulation's model) computes, then\n"
            "lowered with input records that take raw inputs: audio branches run the\n"
            "runtime's front end on PCM, image branches take pixels 0..1. Only the input\n"
            "records differ from model.tm2n (checked). Prints flash, arena, scratch and\n"
            "workspace bytes, MACs and the size against its lower bound.\n\n"
            "options:\n"
            "  -o, --out MODEL     the model file to write (atomically)\n"
            "  --c-array FILE.h    also write the same bytes as a C array\n"
            "  --symbol NAME       the array's name (default: from FILE.h's name)\n"
            "  --inputs KIND       raw (default) or features: keep model.tm2n's inputs,\n"
            "                      which take ready features (MFCCs)\n"
            "  --plan PLAN         stream (default): conv / depthwise / max-pool chains run\n"
            "                      row by row when that needs less RAM; flat: every tensor\n"
            "                      in the arena (faster on SIMD builds, more RAM)\n"
            "  --json FILE         also write the report as JSON (docs/deployment.md)\n"
            "  --quiet             print nothing but errors\n"
            "  --help              this text\n");
}

typedef struct {
    const char *qdir, *out, *c_array, *symbol, *json;
    int raw, quiet, flat;
} options;

typedef struct {
    tm_qrun_folder f;
    uint8_t *bytes;
} state;

static void state_free(state *st)
{
    tm_qrun_folder_close(&st->f);
    free(st->bytes);
}

static const char *input_kind(const tm_rt_input_desc *in)
{
    return in->kind == TM_RT_INPUT_AUDIO   ? "audio"
           : in->kind == TM_RT_INPUT_IMAGE ? "image"
                                           : "features";
}

/* --json FILE: the printed report for programs (docs/deployment.md). */
static tm_status write_report(const options *o, const state *st, const tm_rt_model *dm, size_t n)
{
    tm_export_stats s;
    tm_export_stats_of(dm, &s);
    json_t *d = tm_json_doc(st->f.e.name, NULL);
    int bad = !d;
    bad |= tm_json_set_str(d, "qdir", o->qdir);
    bad |= tm_json_set_str(d, "model", o->out);
    if (o->c_array)
        bad |= tm_json_set_str(d, "c_array", o->c_array);
    bad |= tm_json_set_str(d, "input_records", o->raw ? "raw" : "features");
    bad |= tm_json_set_int(d, "flash_bytes", (long long)s.file_bytes);
    bad |= tm_json_set_int(d, "arena_bytes", s.arena_bytes);
    bad |= tm_json_set_int(d, "peak_live_bytes", (long long)s.peak_live_bytes);
    bad |= tm_json_set_int(d, "scratch_bytes", s.scratch_bytes);
    bad |= tm_json_set_int(d, "scratch_this_build_bytes", s.scratch_need);
    bad |= tm_json_set_int(d, "workspace_bytes", s.workspace_bytes);
    bad |= tm_json_set_int(d, "ram_bytes", (long long)s.memory_bytes);
    json_t *per = json_object();
    for (int t = 0; t < TM_EXPORT_TARGETS; t++)
        bad |= tm_json_set_int(per, tm_export_targets[t].name, (long long)s.ram_for[t]);
    bad |= tm_json_set(d, "ram_bytes_per_target", per);
    json_t *un = json_object();
    for (int t = 0; t < TM_EXPORT_TARGETS; t++)
        bad |= tm_json_set_int(un, tm_export_targets[t].name, (long long)s.unstreamed_ram_for[t]);
    bad |= tm_json_set(d, "unstreamed_ram_bytes_per_target", un);
    bad |= tm_json_set_int(d, "unstreamed_arena_bytes", (long long)s.unstreamed_arena_bytes);
    bad |= tm_json_set_int(d, "streamed_tensors", (long long)s.streamed_tensors);
    bad |= tm_json_set_int(d, "macs", (long long)s.macs);
    bad |= tm_json_set_int(d, "weight_ops", s.weight_ops);
    bad |= tm_json_set_int(d, "ops8", s.ops8);
    bad |= tm_json_set_int(d, "ops4", s.ops4);
    bad |= tm_json_set_int(d, "weights8", s.params8);
    bad |= tm_json_set_int(d, "weights4", s.params4);
    bad |= tm_json_set_int(d, "lower_bound_bytes", (long long)s.lower_bound);
    bad |= tm_json_set_int(d, "packed_weight_bits_bytes", (long long)s.weight_bits_bytes);
    bad |= tm_json_set_int(d, "bias_requant_bytes", (long long)s.param_bytes);
    bad |= tm_json_set_int(d, "fixed_bytes", (long long)s.fixed_bytes);
    bad |= tm_json_set_num(d, "file_over_bound", s.ratio, 4);
    bad |= tm_json_set_num(d, "blob_over_bound", s.blob_ratio, 4);
    json_t *ins = json_array();
    for (uint32_t i = 0; i < dm->n_inputs; i++) {
        const tm_rt_input_desc *in = &dm->inputs[i];
        const tm_rt_tensor_desc *t = &dm->tensors[in->tensor];
        json_t *one = json_object(), *shape = json_array();
        bad |= tm_json_set(one, "name", tm_json_text(in->name, TM_RT_NAME_LEN));
        bad |= tm_json_set_str(one, "kind", input_kind(in));
        bad |= tm_json_set(one, "column", tm_json_text(in->column, TM_RT_NAME_LEN));
        bad |= tm_json_push(shape, json_integer(t->c));
        bad |= tm_json_push(shape, json_integer(t->h));
        bad |= tm_json_push(shape, json_integer(t->w));
        bad |= tm_json_set(one, "shape", shape);
        if (in->kind == TM_RT_INPUT_AUDIO) {
            bad |= tm_json_set_int(one, "sample_rate", in->fe.sample_rate);
            bad |= tm_json_set_int(one, "num_samples", in->fe.num_samples);
        }
        bad |= tm_json_push(ins, one);
    }
    bad |= tm_json_set(d, "inputs", ins);
    json_t *cls = json_array();
    for (uint32_t c = 0; c < dm->n_classes; c++)
        bad |= tm_json_push(cls, tm_json_text(dm->class_names[c], TM_RT_NAME_LEN));
    bad |= tm_json_set(d, "classes", cls);
    /* Per-layer bits, packed bytes and MACs, as quantize's metrics.json has them. */
    tm_status rs = d ? tm_run_size_json(d, st->f.q, n) : TM_OK;
    if (rs != TM_OK) {
        json_decref(d);
        return rs;
    }
    return tm_json_commit(d, bad, o->json);
}

static tm_status run(const options *o, state *st)
{
    char path[TM_PATH_LEN + 32];
    snprintf(path, sizeof path, "%s/model.tm2n", o->qdir);
    FILE *probe = fopen(path, "rb");
    if (probe)
        fclose(probe);
    else {
        char h5[TM_PATH_LEN + 32];
        snprintf(h5, sizeof h5, "%s/model.h5", o->qdir);
        if ((probe = fopen(h5, "rb"))) {
            fclose(probe);
            return tm_error(TM_ERR_ARG, "%s is a training run, not a quantised one: run "
                                        "`tinym2net quantize %s --out QDIR` first, then export "
                                        "QDIR",
                            o->qdir, o->qdir);
        }
    }
    /* The quantised model as tm_quantize left it: experiment, weights, ranges. */
    TM_TRY(tm_qrun_folder_open(&st->f, o->qdir));
    const tm_rt_model sm = st->f.rt;
    tm_experiment *e = &st->f.e;
    const tm_model *m = st->f.m;
    tm_lower_options lo = st->f.lo;
    lo.label_column = e->data.source == TM_DATA_MANIFEST ? e->data.label_column : NULL;

    tm_rt_input_desc raw[TM_MAX_BRANCHES];
    const tm_rt_input_desc *rawp[TM_MAX_BRANCHES] = {0};
    int n_raw = 0;
    if (o->raw)
        TM_TRY(tm_run_raw_inputs(e, m, raw, rawp, &n_raw));
    size_t n = 0;
    TM_TRY(tm_export_lower(st->f.q, &lo, rawp, st->f.tm2n, st->f.tm2n_size, &st->bytes, &n));
    if (o->flat)
        TM_TRY(tm_export_plan_flat(&st->bytes, &n));
    tm_rt_model dm;
    if (tm_rt_model_open(&dm, st->bytes, n) != TM_RT_OK)
        return tm_error(TM_ERR_INTERNAL, "export: the runtime rejects the exported model: %s",
                        tm_rt_model_error(&dm));
    char sym[128], note[TM_PATH_LEN + 64];
    if (o->c_array) {
        if (o->symbol)
            snprintf(sym, sizeof sym, "%s", o->symbol);
        else
            tm_export_symbol(o->c_array, sym, sizeof sym);
        snprintf(note, sizeof note, "From %s (%s).", o->qdir, e->name);
    }
    /* Both outputs change as one unit. */
    TM_TRY(tm_export_write_outputs(o->out, o->c_array, sym, st->bytes, n, note));
    if (o->json)
        TM_TRY(write_report(o, st, &dm, n));
    if (!o->quiet) {
        tm_export_stats s;
        tm_export_stats_of(&dm, &s);
        printf("exported %s (%s) to %s%s%s\n", o->qdir, e->name, o->out,
               o->c_array ? " and " : "", o->c_array ? o->c_array : "");
        for (uint32_t i = 0; i < dm.n_inputs; i++) {
            const tm_rt_input_desc *in = &dm.inputs[i];
            const tm_rt_tensor_desc *t = &dm.tensors[in->tensor];
            if (in->kind == TM_RT_INPUT_AUDIO)
                printf("  input %-14s audio: %d samples at %d Hz -> %dx%dx%d features\n", in->name,
                       in->fe.num_samples, in->fe.sample_rate, t->c, t->h, t->w);
            else
                printf("  input %-14s %s: %dx%dx%d floats\n", in->name,
                       in->kind == TM_RT_INPUT_IMAGE ? "image" : "features", t->c, t->h, t->w);
        }
        printf("  classes             %10u\n", dm.n_classes);
        tm_export_print_stats(stdout, &s);
        if (dm.arena_bytes != sm.arena_bytes || dm.scratch_bytes != sm.scratch_bytes)
            printf("  note: model.tm2n was planned by another runtime build (arena %u, scratch "
                   "%u bytes); the same computation, with this build's plan\n",
                   sm.arena_bytes, sm.scratch_bytes);
        if (o->raw && n_raw < m->spec.n_branches)
            printf("  note: %d input(s) without a file-backed feature kind keep taking ready "
                   "features\n",
                   m->spec.n_branches - n_raw);
    }
    return TM_OK;
}

int tm_cmd_export(int argc, char **argv)
{
    static const char *const kinds[] = {"raw", "features", NULL};
    options o;
    memset(&o, 0, sizeof o);
    static const char *const plans[] = {"stream", "flat", NULL};
    const char *inputs = "raw", *plan = "stream";
    const tm_cli_option opts[] = {
        TM_CLI_STRING("--out", "-o", &o.out),
        TM_CLI_STRING("--c-array", NULL, &o.c_array),
        TM_CLI_STRING("--symbol", NULL, &o.symbol),
        TM_CLI_CHOICE("--inputs", &inputs, kinds),
        TM_CLI_CHOICE("--plan", &plan, plans),
        TM_CLI_STRING("--json", NULL, &o.json),
        TM_CLI_FLAG("--quiet", "-q", &o.quiet),
        {0},
    };
    int rc = tm_cli_parse("export", help, opts, argc, argv, &o.qdir, 1);
    if (rc)
        return rc == TM_CLI_HELP ? 0 : rc;
    if (!o.out) {
        fprintf(stderr, "tinym2net export: -o MODEL is required\n");
        return 2;
    }
    o.raw = !strcmp(inputs, "raw");
    o.flat = !strcmp(plan, "flat");
    state st;
    memset(&st, 0, sizeof st);
    tm_status s = run(&o, &st);
    state_free(&st);
    return s == TM_OK ? 0 : tm_cli_fail("export");
}
