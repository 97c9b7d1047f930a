/* The exporter (export/tm_export.h, `tinym2net export`) and the host runner
 * (`tinym2net-run`): size and memory accounting against a model worked out
 * by hand, the C array (compiled and read back by the system compiler),
 * atomic writes, raw-input lowering and its checks, the commands end to end
 * and their errors. Needs no data: models come from the synthetic
 * quickstart set, audio and image files are generated here. */
#include <math.h>
#include <png.h>
#include <sndfile.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "tm_audio.h"
#include "tm_data_load.h"
#include "tm_export.h"
#include "tm_image.h"
#include "tm_rt_kernels.h"
#include "tm_test_util.h"

static void spit(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

static void rm_rf(char *dir)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
    free(dir);
}

/* ---- a model worked out by hand ----------------------------------------- */

static tm_rt_builder builder;
static uint32_t model_buf[4096];

/* features 2x5x5 -> conv 3x3 (8-bit, bias, pad 1) 3x5x5 -> depthwise 3x3
 * (4-bit: 9 weights a row, so each row ends with a padding nibble, no bias)
 * 3x5x5 -> dense 75 -> 4 (4-bit, bias). */
static size_t hand_model(void)
{
    tm_rt_builder *b = &builder;
    tm_rt_builder_init(b, model_buf, sizeof model_buf);
    int32_t x = tm_rt_builder_tensor(b, 2, 5, 5, 0.05f, -3);
    int32_t c1 = tm_rt_builder_tensor(b, 3, 5, 5, 0.04f, -128);
    int32_t d1 = tm_rt_builder_tensor(b, 3, 5, 5, 0.03f, -128);
    int32_t y = tm_rt_builder_tensor(b, 4, 1, 1, 0.1f, 5);
    tm_rt_input_desc in;
    memset(&in, 0, sizeof in);
    snprintf(in.name, sizeof in.name, "x");
    in.kind = TM_RT_INPUT_FEATURES;
    in.tensor = x;
    tm_rt_builder_input(b, &in);
    int32_t mult[4], shift[4], bias[4] = {10, -20, 30, -40};
    for (int c = 0; c < 4; c++)
        tm_rt_quantize_multiplier(0.01 * (c + 1), &mult[c], &shift[c]);
    int8_t w8[54];
    uint8_t w4[160];
    for (int i = 0; i < 54; i++)
        w8[i] = (int8_t)(i % 15 - 7);
    for (int i = 0; i < 160; i++)
        w4[i] = (uint8_t)(i * 37);
    const struct {
        tm_rt_op_type type;
        int32_t in, out, k, pad, bits;
        const void *w;
        uint32_t wbytes;
        int bias;
    } spec[3] = {{TM_RT_OP_CONV, x, c1, 3, 1, 8, w8, 54, 1},
                 {TM_RT_OP_DEPTHWISE, c1, d1, 3, 1, 4, w4, 15, 0},
                 {TM_RT_OP_DENSE, d1, y, 1, 0, 4, w4, 152, 1}};
    for (int k = 0; k < 3; k++) {
        tm_rt_op_desc op;
        memset(&op, 0, sizeof op);
        op.type = (uint32_t)spec[k].type;
        op.version = 1;
        op.n_inputs = 1;
        for (int j = 0; j < TM_RT_MAX_OP_INPUTS; j++)
            op.inputs[j] = -1;
        op.inputs[0] = spec[k].in;
        op.output = spec[k].out;
        op.kh = op.kw = spec[k].k;
        op.stride = 1;
        op.pad_top = op.pad_left = spec[k].pad;
        op.bits = spec[k].bits;
        op.act_min = -128;
        op.act_max = 127;
        op.weights = tm_rt_builder_blob(b, spec[k].w, spec[k].wbytes);
        op.weights_bytes = spec[k].wbytes;
        op.bias = spec[k].bias ? tm_rt_builder_blob(b, bias, 4u * 4u) : TM_RT_NONE;
        op.mult = tm_rt_builder_blob(b, mult, 4u * 4u);
        op.shift = tm_rt_builder_blob(b, shift, 4u * 4u);
        ck_assert_int_ge(tm_rt_builder_op(b, &op), 0);
    }
    for (int c = 0; c < 4; c++) {
        char name[8];
        snprintf(name, sizeof name, "c%d", c);
        tm_rt_builder_class(b, name);
    }
    tm_rt_builder_output(b, y);
    b->flags = 0; /* every tensor in the arena: the accounting by hand below */
    size_t size = 0;
    ck_assert_int_eq(tm_rt_builder_finish(b, &size), TM_RT_OK);
    return size;
}

START_TEST(stats_by_hand)
{
    size_t size = hand_model();
    tm_rt_model m;
    ck_assert_msg(tm_rt_model_open(&m, model_buf, size) == TM_RT_OK, "%s", tm_rt_model_error(&m));
    ck_assert_uint_eq(tm_export_op_macs(&m, 0), 3u * 25u * 18u);
    ck_assert_uint_eq(tm_export_op_macs(&m, 1), 3u * 25u * 9u);
    ck_assert_uint_eq(tm_export_op_macs(&m, 2), 75u * 4u);
    ck_assert_uint_eq(tm_export_op_macs(&m, 3), 0);
    tm_export_stats s;
    tm_export_stats_of(&m, &s);
    ck_assert_uint_eq(s.macs, 1350u + 675u + 300u);
    ck_assert_int_eq(s.weight_ops, 3);
    ck_assert_int_eq(s.ops8, 1);
    ck_assert_int_eq(s.ops4, 2);
    ck_assert_int_eq(s.params8, 54);
    ck_assert_int_eq(s.params4, 27 + 300);
    /* ceil(bits * weights / 8): 54, ceil(108 / 8) = 14 (the file holds 15:
     * three 5-byte rows), 150 */
    ck_assert_uint_eq(s.weight_bits_bytes, 54u + 14u + 150u);
    /* bias 4 B and (mult, shift) 8 B per channel: conv 3 x 12, depthwise
     * 3 x 8 (no bias), dense 4 x 12 */
    ck_assert_uint_eq(s.param_bytes, 36u + 24u + 48u);
    ck_assert_uint_eq(s.lower_bound, s.weight_bits_bytes + s.param_bytes);
    ck_assert_uint_eq(s.fixed_bytes, 112u + 24u * 4u + 84u * 3u + 128u * 1u + 32u * 4u);
    ck_assert_uint_eq(s.file_bytes, size);
    ck_assert(fabs(s.ratio - (double)size / (double)(s.lower_bound + s.fixed_bytes)) < 1e-12);
    /* RAM per target: this build's own figure for its ISA, no scratch on the
     * reference, and every target's scratch within the file's bound */
    int own = 0;
    for (int t = 0; t < TM_EXPORT_TARGETS; t++) {
        size_t base = 15 + (s.arena_bytes + 15) / 16 * 16 + s.workspace_bytes;
        ck_assert_uint_ge(s.ram_for[t], base);
        ck_assert_uint_le(s.ram_for[t], base + (s.scratch_bytes + 15) / 16 * 16);
        if (tm_export_targets[t].isa == TM_RT_ISA_REFERENCE)
            ck_assert_uint_eq(s.ram_for[t], base);
        ck_assert_uint_eq(s.unstreamed_ram_for[t], s.ram_for[t]); /* nothing streamed */
        if (tm_export_targets[t].isa == (int)tm_rt_kernels_build_isa()) {
            ck_assert_uint_eq(s.ram_for[t], s.memory_bytes);
            own = 1;
        }
    }
    ck_assert_msg(own, "this build's ISA %s is not among the export targets", tm_rt_kernels_isa());
    /* the depthwise padding nibbles are the only excess over the bound,
     * plus the blob's alignment */
    ck_assert_uint_ge(size, s.lower_bound + s.fixed_bytes + 1);
    ck_assert_uint_le(size, s.lower_bound + s.fixed_bytes + 1 + 3 * 6 + 15);
    /* live at once: input 50 + conv 75, conv 75 + depthwise 75, ... */
    ck_assert_uint_eq(s.peak_live_bytes, 150u);
    ck_assert_uint_ge(s.arena_bytes, s.peak_live_bytes);
    ck_assert_uint_eq(s.memory_bytes, tm_rt_model_memory_bytes(&m));

    char text[4096];
    FILE *f = fmemopen(text, sizeof text, "w");
    ck_assert_ptr_nonnull(f);
    tm_export_print_stats(f, &s);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(text, "MACs per inference        2325"));
    ck_assert_ptr_nonnull(strstr(text, "lower bound                326 bytes"));
}
END_TEST

/* ---- writers ---------------------------------------------------------------- */

START_TEST(symbols)
{
    char s[64];
    tm_export_symbol("out/dir.v2/model.tm2n.h", s, sizeof s);
    ck_assert_str_eq(s, "model");
    tm_export_symbol("my-model.h", s, sizeof s);
    ck_assert_str_eq(s, "my_model");
    tm_export_symbol("/x/1st.h", s, sizeof s);
    ck_assert_str_eq(s, "_1st");
    tm_export_symbol(".h", s, sizeof s);
    ck_assert_str_eq(s, "_model");
    tm_export_symbol("plain", s, sizeof s);
    ck_assert_str_eq(s, "plain");
}
END_TEST

START_TEST(write_file_atomic)
{
    char *dir = tm_test_tmpdir("exportw");
    ck_assert_ptr_nonnull(dir);
    char path[4200], tmp[4300];
    snprintf(path, sizeof path, "%s/m.tm2n", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    const char data[] = "0123456789";
    TM_CK(tm_export_write_file(path, data, 10));
    size_t n = 0;
    char *got = tm_test_slurp(path, &n);
    ck_assert_uint_eq(n, 10);
    ck_assert_mem_eq(got, data, 10);
    free(got);
    struct stat st;
    ck_assert_int_ne(stat(tmp, &st), 0);
    /* overwrite in place, shorter */
    TM_CK(tm_export_write_file(path, data, 3));
    got = tm_test_slurp(path, &n);
    ck_assert_uint_eq(n, 3);
    free(got);
    snprintf(path, sizeof path, "%s/no/such/dir/m.tm2n", dir);
    ck_assert_int_eq(tm_export_write_file(path, data, 10), TM_ERR_IO);
    ck_assert_ptr_nonnull(strstr(tm_last_error(), "no/such/dir/m.tm2n"));
    ck_assert_int_eq(tm_export_write_c_array(path, "bad-name", data, 10, NULL), TM_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(tm_last_error(), "not a C identifier"));
    rm_rf(dir);
}
END_TEST

/* The generated header compiles (C99 and C11, -Wall -Wextra -pedantic
 * -Werror), its array is 16-byte aligned and holds exactly the bytes, and
 * the runtime opens it in place. */
START_TEST(c_array_compiles_and_matches)
{
    size_t size = hand_model();
    char *dir = tm_test_tmpdir("exportc");
    ck_assert_ptr_nonnull(dir);
    char hdr[4200], src[4200], out[4200], cmd[16384], log[1 << 14];
    snprintf(hdr, sizeof hdr, "%s/hand_model.h", dir);
    /* a run name or folder with a comment end and a line break stays inside the comment */
    TM_CK(tm_export_write_c_array(hdr, "hand_model", model_buf, size,
                                  "A test model. From runs/a*/b (x*/\n#error y*/)."));
    snprintf(src, sizeof src, "%s/main.c", dir);
    FILE *f = fopen(src, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "#include <stdint.h>\n#include <stdio.h>\n#include \"hand_model.h\"\n"
               "#include \"tm_rt_model.h\"\n"
               "int main(int argc, char **argv)\n{\n"
               "    (void)argc;\n"
               "    if ((uintptr_t)hand_model %% 16 != 0 || sizeof hand_model != HAND_MODEL_LEN)\n"
               "        return 3;\n"
               "    if (tm_rt_crc32(hand_model, HAND_MODEL_LEN) != HAND_MODEL_CRC32)\n"
               "        return 4;\n"
               "    tm_rt_model m;\n"
               "    if (tm_rt_model_open(&m, hand_model, HAND_MODEL_LEN) != TM_RT_OK)\n"
               "        return 5;\n"
               "    FILE *f = fopen(argv[1], \"wb\");\n"
               "    if (!f || fwrite(hand_model, 1, HAND_MODEL_LEN, f) != HAND_MODEL_LEN)\n"
               "        return 6;\n"
               "    return fclose(f) != 0;\n}\n");
    ck_assert_int_eq(fclose(f), 0);
    const char *stds[2] = {"c99", "c11"};
    for (int i = 0; i < 2; i++) {
        snprintf(out, sizeof out, "%s/bytes-%s.bin", dir, stds[i]);
        snprintf(cmd, sizeof cmd,
                 "cc -std=%s -Wall -Wextra -pedantic -Werror -I'%s' -I'%s/runtime' '%s' "
                 "'%s'/runtime/*.c -lm -o '%s/prog' 2>&1 && '%s/prog' '%s' 2>&1",
                 stds[i], dir, tm_test_source_dir(), src, tm_test_source_dir(), dir, dir, out);
        int rc = tm_test_run_cmd(cmd, log, sizeof log);
        ck_assert_msg(rc == 0, "-std=%s: exit %d\n%s", stds[i], rc, log);
        size_t n = 0;
        char *got = tm_test_slurp(out, &n);
        ck_assert_uint_eq(n, size);
        ck_assert_mem_eq(got, model_buf, size);
        free(got);
    }
    size_t n = 0;
    char *text = tm_test_slurp(hdr, &n);
    ck_assert_ptr_nonnull(strstr(text, "A test model. From runs/a* /b (x* / #error y* /)."));
    char want[64];
    snprintf(want, sizeof want, "#define HAND_MODEL_LEN %zuu", size);
    ck_assert_ptr_nonnull(strstr(text, want));
    free(text);
    rm_rf(dir);
}
END_TEST

/* ---- raw-input lowering and tinym2net-run ------------------------------------ */

/* The quickstart model (random weights) calibrated on a small synthetic set:
 * audio input 1 x 12 x 24, image 1 x 16 x 16. */
typedef struct {
    tm_experiment e;
    tm_splits data;
    tm_model *m;
    tm_qat *q;
    tm_pool *pool;
} qs_model;

static void qs_open(qs_model *s)
{
    char cfg[4200];
    snprintf(cfg, sizeof cfg, "%s/experiments/quickstart.cfg", tm_test_source_dir());
    const char *sets[] = {"data.train_samples=128", "data.val_samples=16",
                          "data.test_samples=16", "experiment.threads=1"};
    TM_CK(tm_experiment_load(&s->e, cfg, sets, 4));
    TM_CK(tm_load_splits(&s->e, &s->data, NULL));
    tm_experiment_set_classes(&s->e, s->data.train.n_classes);
    tm_rng r;
    tm_rng_seed(&r, 5);
    TM_CK(tm_model_build(&s->m, &s->e.model, &r));
    TM_CK(tm_qat_new(&s->q, s->m, NULL));
    TM_CK(tm_qat_preset(s->q, "paper"));
    TM_CK(tm_pool_new(&s->pool, 1));
    int map[TM_MAX_BRANCHES];
    TM_CK(tm_match_branches(&s->e, &s->m->spec, &s->data.train, map));
    tm_qat_data d;
    memset(&d, 0, sizeof d);
    d.n = s->data.train.n;
    d.label = s->data.train.label;
    for (int b = 0; b < s->m->spec.n_branches; b++)
        d.x[b] = s->data.train.x[map[b]];
    TM_CK(tm_qat_calibrate(s->q, s->pool, &d, 32, 4, &r));
}

static void qs_close(qs_model *s)
{
    tm_pool_free(s->pool);
    tm_qat_free(s->q);
    tm_model_free(s->m);
    tm_splits_free(&s->data);
    tm_experiment_free(&s->e);
}

/* 12 MFCC x 24 frames: 256-sample windows, hop 128, 3200 samples. */
static tm_rt_frontend_config qs_frontend(void)
{
    tm_rt_frontend_config c;
    memset(&c, 0, sizeof c);
    c.sample_rate = 8000;
    c.window_length = 256;
    c.hop_length = 128;
    c.n_fft = 256;
    c.n_mels = 24;
    c.n_mfcc = 12;
    c.fmin = 20.0f;
    c.fmax = 4000.0f;
    c.window = TM_RT_WINDOW_HANN;
    c.log_floor = 1e-6f;
    c.num_samples = 256 + 23 * 128;
    return c;
}

static int branch_index(const tm_model *m, const char *name)
{
    for (int b = 0; b < m->spec.n_branches; b++)
        if (!strcmp(m->spec.branches[b].name, name))
            return b;
    ck_abort_msg("no branch %s", name);
    return -1;
}

/* Lowers qs with raw records for its audio and image branches. */
static tm_status qs_export(qs_model *qs, const tm_rt_frontend_config *fe, const void *sim,
                           size_t sim_n, uint8_t **bytes, size_t *n)
{
    tm_rt_input_desc audio, image;
    tm_export_audio_input(fe, &audio);
    tm_export_image_input(&image);
    const tm_rt_input_desc *raw[TM_MAX_BRANCHES] = {0};
    raw[branch_index(qs->m, "audio")] = &audio;
    raw[branch_index(qs->m, "image")] = &image;
    tm_lower_options lo;
    memset(&lo, 0, sizeof lo);
    return tm_export_lower(qs->q, &lo, raw, sim, sim_n, bytes, n);
}

START_TEST(lower_raw_inputs)
{
    qs_model qs;
    qs_open(&qs);
    tm_lower_options lo;
    memset(&lo, 0, sizeof lo);
    uint8_t *sim = NULL, *dev = NULL;
    size_t sim_n = 0, dev_n = 0;
    TM_CK(tm_lower(qs.q, &lo, &sim, &sim_n));
    tm_rt_frontend_config fe = qs_frontend();
    TM_CK(qs_export(&qs, &fe, sim, sim_n, &dev, &dev_n));
    tm_rt_model ms, md;
    ck_assert_int_eq(tm_rt_model_open(&ms, sim, sim_n), TM_RT_OK);
    ck_assert_int_eq(tm_rt_model_open(&md, dev, dev_n), TM_RT_OK);
    for (uint32_t i = 0; i < md.n_inputs; i++) {
        ck_assert_int_eq(ms.inputs[i].kind, TM_RT_INPUT_FEATURES);
        int audio = !strcmp(md.inputs[i].name, "audio");
        ck_assert_int_eq(md.inputs[i].kind, audio ? TM_RT_INPUT_AUDIO : TM_RT_INPUT_IMAGE);
        ck_assert_uint_eq(tm_rt_model_input_floats(&md, (int)i),
                          audio ? 3200u : 16u * 16u);
    }
    ck_assert_uint_eq(ms.workspace_bytes, 0);
    ck_assert_uint_gt(md.workspace_bytes, 0);
    ck_assert_mem_eq(ms.blob, md.blob, ms.blob_bytes);
    ck_assert_mem_eq(ms.ops, md.ops, sizeof *ms.ops * ms.n_ops);
    free(dev);
    dev = NULL;

    /* the simulated computation must be reproduced exactly (a weight byte
     * changed, resealed so the file still opens) */
    uint8_t *alt = malloc(sim_n);
    ck_assert_ptr_nonnull(alt);
    memcpy(alt, sim, sim_n);
    tm_rt_file_header *h = (tm_rt_file_header *)(void *)alt;
    alt[h->blob_offset + 3] ^= 1;
    h->crc32 = tm_rt_model_file_crc(alt, sim_n);
    ck_assert_int_eq(qs_export(&qs, &fe, alt, sim_n, &dev, &dev_n), TM_ERR_FORMAT);
    ck_assert_msg(strstr(tm_last_error(), "weights blob differ from the simulated model's: they "
                                          "do not come from the same quantisation"),
                  "%s", tm_last_error());
    ck_assert_ptr_null(dev);
    /* a corrupted one is named as such */
    ck_assert_int_eq(qs_export(&qs, &fe, sim, sim_n - 4, &dev, &dev_n), TM_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(tm_last_error(), "the runtime rejects the simulated model"));
    /* another build's memory plan (more scratch) is the same computation */
    memcpy(alt, sim, sim_n);
    h->scratch_bytes += 64;
    h->crc32 = tm_rt_model_file_crc(alt, sim_n);
    TM_CK(qs_export(&qs, &fe, alt, sim_n, &dev, &dev_n));
    free(dev);
    dev = NULL;
    free(alt);
    /* a front end whose output is not the branch's input shape */
    tm_rt_frontend_config bad = fe;
    bad.n_mfcc = 13;
    ck_assert_int_eq(qs_export(&qs, &bad, sim, sim_n, &dev, &dev_n), TM_ERR_SHAPE);
    ck_assert_msg(strstr(tm_last_error(), "input audio: the audio front end gives 1x13x24 "
                                          "features (coefficients x frames), the branch takes "
                                          "1x12x24"),
                  "%s", tm_last_error());
    bad = fe;
    bad.num_samples += 128;
    ck_assert_int_eq(qs_export(&qs, &bad, NULL, 0, &dev, &dev_n), TM_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(tm_last_error(), "1x12x25"));
    bad = fe;
    bad.fmax = 5000.0f;
    ck_assert_int_eq(qs_export(&qs, &bad, NULL, 0, &dev, &dev_n), TM_ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(tm_last_error(), "input audio: audio front end: fmax"));
    ck_assert_ptr_null(dev);
    free(sim);
    qs_close(&qs);
}
END_TEST

/* tinym2net-run on generated files: its logits are the runtime's on the
 * decoded files, its accuracy and files are consistent, its errors name
 * the thing. */
START_TEST(run_program)
{
    const char *bd = getenv("TM_BUILD_DIR");
    if (!bd) {
        printf("skip: TM_BUILD_DIR not set (run through ctest)\n");
        return;
    }
    qs_model qs;
    qs_open(&qs);
    uint8_t *dev = NULL;
    size_t dev_n = 0;
    tm_rt_frontend_config fe = qs_frontend();
    TM_CK(qs_export(&qs, &fe, NULL, 0, &dev, &dev_n));
    tm_rt_model m;
    ck_assert_int_eq(tm_rt_model_open(&m, dev, dev_n), TM_RT_OK);
    char *dir = tm_test_tmpdir("exportrun");
    ck_assert_ptr_nonnull(dir);
    char model[4200], man[4200], path[4300], cmd[32768], out[1 << 15];
    snprintf(model, sizeof model, "%s/m.tm2n", dir);
    TM_CK(tm_export_write_file(model, dev, dev_n));

    /* 6 rows of generated files; rows 2 and 5 reuse a file */
    enum { ROWS = 6 };
    tm_rng r;
    tm_rng_seed(&r, 9);
    snprintf(man, sizeof man, "%s/rows.csv", dir);
    FILE *f = fopen(man, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "audio_file,picture,label\n");
    int labels[ROWS];
    for (int i = 0; i < ROWS; i++) {
        int src = i == 2 || i == 5 ? 0 : i;
        if (src == i) {
            short pcm[4000];
            int n = 2500 + 300 * i; /* shorter and longer than 3200 */
            for (int j = 0; j < n; j++)
                pcm[j] = (short)(8000.0 * sin(0.05 * (i + 1) * j) +
                                 2000.0 * (tm_rng_uniform(&r) - 0.5));
            snprintf(path, sizeof path, "%s/a%d.wav", dir, i);
            tm_test_write_wav(path, pcm, n, 8000);
            uint8_t px[16 * 16];
            for (int j = 0; j < 256; j++)
                px[j] = (uint8_t)tm_rng_below(&r, 256);
            snprintf(path, sizeof path, "%s/i%d.png", dir, i);
            tm_test_write_png(path, px, 16, 16);
        }
        labels[i] = (int)tm_rng_below(&r, m.n_classes);
        fprintf(f, "a%d.wav,%s/i%d.png,%s\n", src, dir, src, m.class_names[labels[i]]);
    }
    ck_assert_int_eq(fclose(f), 0);

    /* the runtime on the decoded files, in process */
    void *mem = malloc(tm_rt_model_memory_bytes(&m));
    ck_assert_ptr_nonnull(mem);
    int8_t want[ROWS][TM_RT_MAX_CLASSES];
    int right = 0, k = (int)m.n_classes;
    for (int i = 0; i < ROWS; i++) {
        int src = i == 2 || i == 5 ? 0 : i;
        for (uint32_t j = 0; j < m.n_inputs; j++) {
            float raw[3200];
            if (m.inputs[j].kind == TM_RT_INPUT_AUDIO) {
                snprintf(path, sizeof path, "%s/a%d.wav", dir, src);
                TM_CK(tm_audio_load(path, 8000, 3200, TM_AUDIO_FIT_START, raw, NULL));
                ck_assert_int_eq(tm_rt_model_set_audio(&m, mem, (int)j, raw), TM_RT_OK);
            } else {
                snprintf(path, sizeof path, "%s/i%d.png", dir, src);
                TM_CK(tm_image_load(path, 1, 16, 16, raw));
                ck_assert_int_eq(tm_rt_model_set_image(&m, mem, (int)j, raw), TM_RT_OK);
            }
        }
        ck_assert_int_eq(tm_rt_model_invoke(&m, mem), TM_RT_OK);
        memcpy(want[i], tm_rt_model_logits(&m, mem), (size_t)k);
        int best = 0;
        for (int c = 1; c < k; c++)
            if (want[i][c] > want[i][best])
                best = c;
        right += best == labels[i];
    }
    free(mem);

    char logits[4200], scores[4200];
    snprintf(logits, sizeof logits, "%s/l.csv", dir);
    snprintf(scores, sizeof scores, "%s/s.csv", dir);
    snprintf(cmd, sizeof cmd,
             "'%s/tinym2net-run' '%s' --manifest '%s' --column audio=audio_file --column "
             "image=picture --logits '%s' --scores '%s' --repeat 3 2>&1",
             bd, model, man, logits, scores);
    ck_assert_msg(tm_test_run_cmd(cmd, out, sizeof out) == 0, "%s", out);
    char acc[64];
    snprintf(acc, sizeof acc, "accuracy %.4f (%d/%d)", (double)right / ROWS, right, ROWS);
    ck_assert_msg(strstr(out, acc), "want '%s' in:\n%s", acc, out);
    ck_assert_ptr_nonnull(strstr(out, "(18 inferences): invoke"));
    snprintf(acc, sizeof acc, "memory %zu bytes", tm_rt_model_memory_bytes(&m));
    ck_assert_msg(strstr(out, acc), "want '%s' in:\n%s", acc, out);
    size_t n = 0;
    char *text, *p;
    tm_test_expect_logits_csv(logits, &want[0][0], ROWS, k, TM_RT_MAX_CLASSES);
    text = tm_test_slurp(scores, &n);
    ck_assert_msg(!strncmp(text, "row,label,predicted,", 20), "%.80s", text);
    p = strchr(text, '\n');
    for (int i = 0; i < ROWS; i++) {
        int row = -1;
        char lab[64], pred[64];
        ck_assert_int_eq(sscanf(p + 1, "%d,%63[^,],%63[^,]", &row, lab, pred), 3);
        ck_assert_int_eq(row, i);
        ck_assert_str_eq(lab, m.class_names[labels[i]]);
        double sum = 0;
        const char *q = p + 1;
        for (int c = 0; c < 3; c++)
            q = strchr(q, ',') + 1;
        for (int c = 0; c < k; c++) {
            sum += atof(q);
            q = strchr(q, c + 1 < k ? ',' : '\n') + 1;
        }
        ck_assert_msg(fabs(sum - 1.0) < 1e-4, "row %d scores sum to %g", i, sum);
        p = strchr(p + 1, '\n');
    }
    free(text);

    /* --root: relative paths from another folder */
    snprintf(cmd, sizeof cmd,
             "cd / && '%s/tinym2net-run' '%s' --manifest '%s' --root '%s' --column "
             "audio=audio_file --column image=picture --quiet 2>&1",
             bd, model, man, dir);
    ck_assert_msg(tm_test_run_cmd(cmd, out, sizeof out) == 0, "%s", out);

    /* errors name the thing */
    struct {
        const char *args, *want;
        int rc;
    } bad[] = {
        {"--manifest '%s'", "no column 'image' for model input 'image'", 1},
        {"--manifest '%s' --column audio=audio_file --column image=picture --label-column y",
         "no label column 'y'", 1},
        {"--manifest '%s' --column audio=audio_file --column image=picture --fit middle",
         "--fit must be start or center", 2},
        {"--manifest '%s' --repeat 0", "--repeat needs a count", 2},
        {"--manifest '%s' --column audio", "--column needs INPUT=COLUMN", 2},
        {"--nope '%s'", "unknown option '--nope'", 2},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char args[8192];
        snprintf(args, sizeof args, bad[i].args, man);
        snprintf(cmd, sizeof cmd, "'%s/tinym2net-run' '%s' %s 2>&1", bd, model, args);
        int rc = tm_test_run_cmd(cmd, out, sizeof out);
        ck_assert_msg(rc == bad[i].rc && strstr(out, bad[i].want), "%s: exit %d:\n%s", args, rc,
                      out);
    }
    /* a label that is not a class, a truncated WAV, a broken model */
    snprintf(path, sizeof path, "%s/bad.csv", dir);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "audio,image,label\na0.wav,i0.png,%s\na0.wav,i0.png,no-such-class\n",
            m.class_names[0]);
    ck_assert_int_eq(fclose(f), 0);
    snprintf(cmd, sizeof cmd, "'%s/tinym2net-run' '%s' --manifest '%s' 2>&1", bd, model, path);
    ck_assert_int_eq(tm_test_run_cmd(cmd, out, sizeof out), 1);
    ck_assert_msg(strstr(out, "bad.csv:3: label 'no-such-class' is not one of the model's"),
                  "%s", out);
    snprintf(path, sizeof path, "%s/a1.wav", dir);
    char *wav = tm_test_slurp(path, &n);
    snprintf(path, sizeof path, "%s/cut.wav", dir);
    spit(path, wav, 30);
    free(wav);
    snprintf(path, sizeof path, "%s/cut.csv", dir);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "audio,image,label\ncut.wav,i0.png,%s\n", m.class_names[0]);
    ck_assert_int_eq(fclose(f), 0);
    snprintf(cmd, sizeof cmd, "'%s/tinym2net-run' '%s' --manifest '%s' 2>&1", bd, model, path);
    ck_assert_int_eq(tm_test_run_cmd(cmd, out, sizeof out), 1);
    ck_assert_msg(strstr(out, "cut.csv:2: input 'audio'") && strstr(out, "cut.wav"), "%s", out);
    dev[dev_n / 2] ^= 0x40;
    TM_CK(tm_export_write_file(model, dev, dev_n));
    snprintf(cmd, sizeof cmd, "'%s/tinym2net-run' '%s' --manifest '%s' 2>&1", bd, model, man);
    ck_assert_int_eq(tm_test_run_cmd(cmd, out, sizeof out), 1);
    ck_assert_msg(strstr(out, "m.tm2n: not a valid model") && strstr(out, "CRC"), "%s", out);
    free(dev);
    rm_rf(dir);
    qs_close(&qs);
}
END_TEST

/* ---- the export command ------------------------------------------------------ */

START_TEST(export_command)
{
    const char *bd = getenv("TM_BUILD_DIR");
    if (!bd) {
        printf("skip: TM_BUILD_DIR not set (run through ctest)\n");
        return;
    }
    char *dir = tm_test_tmpdir("exportcli");
    ck_assert_ptr_nonnull(dir);
    char cmd[32768], out[1 << 16], path[4300];
    const char *src = tm_test_source_dir();
    const char *small = "--set data.train_samples=300 --set data.val_samples=32 --set "
                        "data.test_samples=64 --set train.epochs=1 --set experiment.threads=1";
    snprintf(cmd, sizeof cmd,
             "'%s/tinym2net' train '%s/experiments/quickstart.cfg' %s --out '%s/run' --quiet "
             "2>&1 && '%s/tinym2net' quantize '%s/run' --out '%s/q' --preset paper "
             "--qat-epochs 0 --calib-batches 4 --quiet 2>&1 && '%s/tinym2net' quantize '%s/run' "
             "--out '%s/q8' --preset all8 --qat-epochs 0 --calib-batches 4 --quiet 2>&1",
             bd, src, small, dir, bd, dir, dir, bd, dir, dir);
    ck_assert_msg(tm_test_run_cmd(cmd, out, sizeof out) == 0, "%s", out);

    snprintf(cmd, sizeof cmd,
             "'%s/tinym2net' export '%s/q' -o '%s/m.tm2n' --c-array '%s/m.h' --symbol qs_model "
             "2>&1",
             bd, dir, dir, dir);
    ck_assert_msg(tm_test_run_cmd(cmd, out, sizeof out) == 0, "%s", out);
    const char *keys[] = {"flash (file)", "arena", "scratch", "workspace", "RAM for invoke",
                          "MACs per inference", "lower bound", "file / (lower bound + fixed)",
                          "ready features"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        ck_assert_msg(strstr(out, keys[i]), "no '%s' in:\n%s", keys[i], out);
    /* synthetic inputs have no file form: the device model is model.tm2n */
    size_t n1 = 0, n2 = 0, nh = 0;
    snprintf(path, sizeof path, "%s/m.tm2n", dir);
    char *a = tm_test_slurp(path, &n1);
    snprintf(path, sizeof path, "%s/q/model.tm2n", dir);
    char *b = tm_test_slurp(path, &n2);
    ck_assert_uint_eq(n1, n2);
    ck_assert_mem_eq(a, b, n1);
    tm_rt_model m;
    ck_assert_int_eq(tm_rt_model_open(&m, a, n1), TM_RT_OK);
    tm_export_stats st;
    tm_export_stats_of(&m, &st);
    char want[128];
    snprintf(want, sizeof want, "flash (file)        %10zu bytes", n1);
    ck_assert_msg(strstr(out, want), "no '%s' in:\n%s", want, out);
    snprintf(want, sizeof want, "MACs per inference  %10llu", (unsigned long long)st.macs);
    ck_assert_msg(strstr(out, want), "no '%s' in:\n%s", want, out);
    /* quantize's own MAC count agrees */
    snprintf(path, sizeof path, "%s/q/metrics.json", dir);
    json_t *metrics = tm_test_json_file(path);
    ck_assert_int_eq((long long)tm_test_json_num(metrics, "macs_per_sample"), (long long)st.macs);
    json_decref(metrics);
    ck_assert_msg(st.ratio <= 1.05, "file %zu bytes, %.4f x its lower bound + fixed", n1,
                  st.ratio);
    snprintf(path, sizeof path, "%s/m.h", dir);
    char *h = tm_test_slurp(path, &nh);
    ck_assert_ptr_nonnull(strstr(h, "static const uint8_t qs_model[QS_MODEL_LEN]"));
    snprintf(want, sizeof want, "#define QS_MODEL_LEN %zuu", n1);
    ck_assert_ptr_nonnull(strstr(h, want));
    free(h);
    free(b);

    /* --inputs features gives the same bytes here; bad uses give exit 2 */
    snprintf(cmd, sizeof cmd,
             "'%s/tinym2net' export '%s/q' -o '%s/f.tm2n' --inputs features --quiet 2>&1", bd,
             dir, dir);
    ck_assert_msg(tm_test_run_cmd(cmd, out, sizeof out) == 0, "%s", out);
    ck_assert_str_eq(out, "");
    snprintf(path, sizeof path, "%s/f.tm2n", dir);
    b = tm_test_slurp(path, &n2);
    ck_assert_uint_eq(n1, n2);
    ck_assert_mem_eq(a, b, n1);
    free(b);
    free(a);
    struct {
        const char *args, *want;
        int rc;
    } bad[] = {
        {"'%s/q'", "-o MODEL is required", 2},
        {"'%s/q' -o x --inputs pcm", "--inputs must be raw or features", 2},
        {"'%s/q' -o x --bogus", "unknown option '--bogus'", 2},
        {"'%s/nothing' -o '%s/x.tm2n'", "nothing/model.tm2n", 1},
        {"'%s/q' -o '%s/x.tm2n' --c-array '%s/x.h' --symbol 9lives", "not a C identifier", 1},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char args[16384];
        snprintf(args, sizeof args, bad[i].args, dir, dir, dir);
        snprintf(cmd, sizeof cmd, "'%s/tinym2net' export %s 2>&1", bd, args);
        int rc = tm_test_run_cmd(cmd, out, sizeof out);
        ck_assert_msg(rc == bad[i].rc && strstr(out, bad[i].want), "%s: exit %d:\n%s", args, rc,
                      out);
    }
    /* model.tm2n of another quantisation next to this qmodel.h5 */
    snprintf(cmd, sizeof cmd,
             "cp '%s/q8/model.tm2n' '%s/q/model.tm2n' && '%s/tinym2net' export '%s/q' -o "
             "'%s/x.tm2n' 2>&1",
             dir, dir, bd, dir, dir);
    ck_assert_int_eq(tm_test_run_cmd(cmd, out, sizeof out), 1);
    ck_assert_msg(strstr(out, "do not come from the same quantisation"), "%s", out);
    /* a corrupted model.tm2n */
    snprintf(path, sizeof path, "%s/q8/model.tm2n", dir);
    a = tm_test_slurp(path, &n1);
    a[n1 - 3] ^= 0x10;
    snprintf(path, sizeof path, "%s/q/model.tm2n", dir);
    spit(path, a, n1);
    free(a);
    snprintf(cmd, sizeof cmd, "'%s/tinym2net' export '%s/q' -o '%s/y.tm2n' 2>&1", bd, dir, dir);
    ck_assert_int_eq(tm_test_run_cmd(cmd, out, sizeof out), 1);
    ck_assert_msg(strstr(out, "q/model.tm2n: not a valid model"), "%s", out);
    struct stat sb;
    snprintf(path, sizeof path, "%s/y.tm2n", dir);
    ck_assert_int_ne(stat(path, &sb), 0); /* nothing written on failure */
    rm_rf(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("export");
    TCase *c = tcase_create("accounting");
    tcase_add_test(c, stats_by_hand);
    tcase_add_test(c, symbols);
    suite_add_tcase(s, c);
    c = tcase_create("writers");
    tcase_add_test(c, write_file_atomic);
    tcase_add_test(c, c_array_compiles_and_matches);
    suite_add_tcase(s, c);
    c = tcase_create("lowering");
    tcase_add_test(c, lower_raw_inputs);
    suite_add_tcase(s, c);
    c = tcase_create("commands");
    tcase_set_timeout(c, 300);
    tcase_add_test(c, run_program);
    tcase_add_test(c, export_command);
    suite_add_tcase(s, c);
    return tm_test_run(s);
}
