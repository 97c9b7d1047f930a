#include "tm_export.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tm_file_set.h"
#include "tm_rt_kernels.h"

void tm_export_audio_input(const tm_rt_frontend_config *fe, tm_rt_input_desc *in)
{
    memset(in, 0, sizeof *in);
    in->kind = TM_RT_INPUT_AUDIO;
    in->fe = *fe;
}

void tm_export_image_input(tm_rt_input_desc *in)
{
    memset(in, 0, sizeof *in);
    in->kind = TM_RT_INPUT_IMAGE;
}

/* ---- lowering ------------------------------------------------------------ */

static tm_status open_bytes(tm_rt_model *m, const void *bytes, size_t size, const char *what)
{
    if (tm_rt_model_open(m, bytes, size) != TM_RT_OK)
        return tm_error(TM_ERR_FORMAT, "export: the runtime rejects the %s: %s", what,
                        tm_rt_model_error(m));
    return TM_OK;
}

/* What differs between two models in what they compute, or NULL: tensor
 * shapes and quantisation, ops, weights, class names and the input records
 * (all of each record when whole_inputs, else name, tensor and
 * standardisation only). The memory plan - arena offsets, arena, scratch and
 * workspace sizes - may differ: a runtime build plans it its own way. */
static const char *computation_diff(const tm_rt_model *a, const tm_rt_model *b, int whole_inputs)
{
    if (a->n_tensors != b->n_tensors || a->n_ops != b->n_ops || a->n_inputs != b->n_inputs ||
        a->n_classes != b->n_classes || a->output != b->output)
        return "table sizes or output tensor";
    for (uint32_t t = 0; t < a->n_tensors; t++) {
        const tm_rt_tensor_desc *x = &a->tensors[t], *y = &b->tensors[t];
        if (x->c != y->c || x->h != y->h || x->w != y->w || x->scale != y->scale ||
            x->zero_point != y->zero_point)
            return "tensor shapes or quantisation parameters";
    }
    if (memcmp(a->ops, b->ops, sizeof *a->ops * a->n_ops))
        return "op records";
    if (memcmp(a->class_names, b->class_names, TM_RT_NAME_LEN * (size_t)a->n_classes))
        return "class names";
    if (a->blob_bytes != b->blob_bytes || memcmp(a->blob, b->blob, a->blob_bytes))
        return "weights blob";
    for (uint32_t i = 0; i < a->n_inputs; i++) {
        const tm_rt_input_desc *x = &a->inputs[i], *y = &b->inputs[i];
        if (whole_inputs ? memcmp(x, y, sizeof *x) != 0
                         : strncmp(x->name, y->name, TM_RT_NAME_LEN) || x->tensor != y->tensor ||
                               x->mean != y->mean || x->std != y->std)
            return "input records";
    }
    return NULL;
}

/* A raw input record must fit its branch: the front end's features are the
 * branch's input (1 x coefficients x frames). */
static tm_status check_raw_input(const tm_qat *q, int b, const tm_rt_input_desc *in)
{
    if (!in)
        return TM_OK;
    if (b >= q->m->spec.n_branches)
        return tm_error(TM_ERR_ARG, "export: a raw input record for branch %d, but the model has "
                                    "%d branches",
                        b, q->m->spec.n_branches);
    const tm_branch_spec *bs = &q->m->spec.branches[b];
    if (in->kind == TM_RT_INPUT_IMAGE || in->kind == TM_RT_INPUT_FEATURES)
        return TM_OK;
    if (in->kind != TM_RT_INPUT_AUDIO)
        return tm_error(TM_ERR_ARG, "export: input %s: unknown input kind %d", bs->name,
                        (int)in->kind);
    const tm_rt_frontend_config *c = &in->fe;
    const char *why = tm_rt_frontend_check(c);
    if (why)
        return tm_error(TM_ERR_CONFIG, "export: input %s: audio front end: %s", bs->name, why);
    int coefs = tm_rt_frontend_coefs(c);
    size_t frames = tm_rt_frontend_frames(c);
    if (bs->input[0] != 1 || bs->input[1] != coefs || (size_t)bs->input[2] != frames)
        return tm_error(TM_ERR_SHAPE, "export: input %s: the audio front end gives 1x%dx%zu "
                                      "features (coefficients x frames), the branch takes "
                                      "%dx%dx%d",
                        bs->name, coefs, frames, bs->input[0], bs->input[1], bs->input[2]);
    return TM_OK;
}

tm_status tm_export_lower(const tm_qat *q, const tm_lower_options *o,
                          const tm_rt_input_desc *const *raw, const void *simulated,
                          size_t simulated_size, uint8_t **bytes, size_t *size)
{
    *bytes = NULL;
    *size = 0;
    uint8_t *sim = NULL, *dev = NULL;
    size_t sim_n = 0, dev_n = 0;
    TM_TRY(tm_lower(q, o, &sim, &sim_n));
    tm_rt_model ms, md, mp;
    tm_status s = open_bytes(&ms, sim, sim_n, "rebuilt model");
    if (s == TM_OK && simulated &&
        (sim_n != simulated_size || memcmp(sim, simulated, sim_n) != 0)) {
        /* Not the same bytes: the same computation under another build's
         * memory plan is fine, anything else is another model. */
        const char *why = NULL;
        if (tm_rt_model_open(&mp, simulated, simulated_size) != TM_RT_OK)
            s = tm_error(TM_ERR_FORMAT, "export: the runtime rejects the simulated model: %s",
                         tm_rt_model_error(&mp));
        else if ((why = computation_diff(&ms, &mp, 1)) != NULL)
            s = tm_error(TM_ERR_FORMAT, "export: the rebuilt model's %s differ from the "
                                        "simulated model's: they do not come from the same "
                                        "quantisation",
                         why);
    }
    int any_raw = 0;
    for (int b = 0; raw && b < TM_MAX_BRANCHES; b++)
        any_raw |= raw[b] != NULL;
    for (int b = 0; s == TM_OK && any_raw && b < TM_MAX_BRANCHES; b++)
        s = check_raw_input(q, b, raw[b]);
    if (s == TM_OK && any_raw) {
        tm_lower_options ro = *o;
        for (int b = 0; b < TM_MAX_BRANCHES; b++)
            if (raw[b]) {
                /* The raw record's kind and front end, the run's standardisation. */
                ro.input[b] = *raw[b];
                ro.input[b].mean = o->input[b].mean;
                ro.input[b].std = o->input[b].std;
            }
        s = tm_lower(q, &ro, &dev, &dev_n);
        if (s == TM_OK)
            s = open_bytes(&md, dev, dev_n, "raw-input model");
        const char *why = s == TM_OK ? computation_diff(&ms, &md, 0) : NULL;
        if (why)
            s = tm_error(TM_ERR_INTERNAL, "export: the raw-input model differs from the "
                                          "simulated one in its %s",
                         why);
    }
    if (s != TM_OK) {
        free(sim);
        free(dev);
        return s;
    }
    if (any_raw) {
        free(sim);
        *bytes = dev;
        *size = dev_n;
    } else {
        *bytes = sim;
        *size = sim_n;
    }
    return TM_OK;
}

/* ---- accounting ---------------------------------------------------------- */

static uint64_t elems(const tm_rt_tensor_desc *t)
{
    return (uint64_t)t->c * (uint64_t)t->h * (uint64_t)t->w;
}

/* Weights per output channel of a weight op. */
static uint64_t row_weights(const tm_rt_model *m, const tm_rt_op_desc *op)
{
    const tm_rt_tensor_desc *in = &m->tensors[op->inputs[0]];
    switch (op->type) {
    case TM_RT_OP_CONV: return (uint64_t)op->kh * (uint64_t)op->kw * (uint64_t)in->c;
    case TM_RT_OP_DEPTHWISE: return (uint64_t)op->kh * (uint64_t)op->kw;
    case TM_RT_OP_DENSE: return elems(in);
    }
    return 0;
}

uint64_t tm_export_op_macs(const tm_rt_model *m, uint32_t k)
{
    if (!m || k >= m->n_ops)
        return 0;
    const tm_rt_op_desc *op = &m->ops[k];
    const tm_rt_tensor_desc *out = &m->tensors[op->output];
    /* Every output value takes one row of weights (padding taps included:
     * the kernels multiply the zero-point-shifted zeros too). */
    return row_weights(m, op) * elems(out);
}

const tm_export_target tm_export_targets[TM_EXPORT_TARGETS] = {
    {TM_RT_ISA_AVX2, "avx2", "x86-64 with AVX2"},
    {TM_RT_ISA_AVX512VNNI, "avx512vnni", "x86-64 with AVX-512 VNNI"},
    {TM_RT_ISA_SSE41, "sse4.1", "x86-64 with SSE4.1"},
    {TM_RT_ISA_SSE2, "sse2", "any x86-64"},
    {TM_RT_ISA_NEON, "neon", "aarch64, Cortex-A72 (Raspberry Pi 4)"},
    {TM_RT_ISA_DOTPROD, "dotprod", "aarch64 dot product, Cortex-A76 (Raspberry Pi 5)"},
    {TM_RT_ISA_ARM_DSP, "arm-dsp", "Cortex-M4 / M7 / M33 with DSP"},
    {TM_RT_ISA_REFERENCE, "reference", "plain C: Cortex-M0 / M3, other cores"},
};

/* tm_rt_model_memory_bytes as a build for isa would return it. */
static size_t ram_for(const tm_rt_model *m, int isa)
{
    size_t need = tm_rt_model_scratch_need_for(isa, m->ops, m->n_ops, m->tensors);
    return 15 + ((size_t)m->arena_bytes + 15) / 16 * 16 + (need + 15) / 16 * 16 +
           m->workspace_bytes;
}

/* m planned again with every tensor in the arena: *out malloc'd (NULL on
 * failure, the reason in why). */
static tm_rt_status plan_flat_copy(const tm_rt_model *m, uint8_t **out, size_t *n, char *why,
                                   size_t why_n)
{
    size_t cap = m->size + 64;
    tm_rt_builder *b = malloc(sizeof *b);
    uint8_t *buf = malloc(cap);
    tm_rt_status rs = TM_RT_ERR_BUFFER;
    snprintf(why, why_n, "out of memory");
    if (b && buf) {
        tm_rt_builder_from_model(b, m, buf, cap);
        b->flags = 0;
        rs = tm_rt_builder_finish(b, n);
        if (rs != TM_RT_OK)
            snprintf(why, why_n, "%s", tm_rt_builder_error(b));
    }
    free(b);
    if (rs != TM_RT_OK) {
        free(buf);
        buf = NULL;
    }
    *out = buf;
    return rs;
}

/* m planned again without streamed chains, for the before / after figures. */
static void unstreamed(const tm_rt_model *m, tm_export_stats *s)
{
    for (int t = 0; t < TM_EXPORT_TARGETS; t++)
        s->unstreamed_ram_for[t] = s->ram_for[t];
    s->unstreamed_arena_bytes = m->arena_bytes;
    if (!(m->flags & TM_RT_FLAG_STREAM))
        return;
    uint8_t *buf = NULL;
    size_t n = 0;
    char why[128];
    tm_rt_model f;
    if (plan_flat_copy(m, &buf, &n, why, sizeof why) == TM_RT_OK &&
        tm_rt_model_open(&f, buf, n) == TM_RT_OK) {
        s->unstreamed_arena_bytes = f.arena_bytes;
        for (int t = 0; t < TM_EXPORT_TARGETS; t++)
            s->unstreamed_ram_for[t] = ram_for(&f, tm_export_targets[t].isa);
    }
    free(buf);
}

void tm_export_stats_of(const tm_rt_model *m, tm_export_stats *s)
{
    memset(s, 0, sizeof *s);
    s->file_bytes = m->size;
    s->arena_bytes = m->arena_bytes;
    s->scratch_bytes = m->scratch_bytes;
    s->scratch_need = m->scratch_need;
    s->workspace_bytes = m->workspace_bytes;
    s->memory_bytes = tm_rt_model_memory_bytes(m);
    for (int t = 0; t < TM_EXPORT_TARGETS; t++)
        s->ram_for[t] = ram_for(m, tm_export_targets[t].isa);
    unstreamed(m, s);
    for (uint32_t t = 0; t < m->n_tensors; t++)
        s->streamed_tensors += m->tensors[t].arena_offset == TM_RT_STREAMED;
    s->n_ops = (int)m->n_ops;
    for (uint32_t k = 0; k < m->n_ops; k++) {
        const tm_rt_op_desc *op = &m->ops[k];
        const tm_rt_tensor_desc *out = &m->tensors[op->output];
        if (op->type == TM_RT_OP_CONCAT || op->type == TM_RT_OP_REQUANTIZE) {
            s->param_bytes += 8u * (uint64_t)op->n_inputs;
            continue;
        }
        if (op->type == TM_RT_OP_ADD) { /* one multiplier per input and one for the sum */
            s->param_bytes += 8u * 3u;
            continue;
        }
        uint64_t row = row_weights(m, op);
        if (!row)
            continue;
        uint64_t n = row * (uint64_t)out->c;
        s->weight_ops++;
        if (op->bits == 4) {
            s->ops4++;
            s->params4 += (long long)n;
        } else {
            s->ops8++;
            s->params8 += (long long)n;
        }
        s->macs += tm_export_op_macs(m, k);
        s->weight_bits_bytes += ((uint64_t)op->bits * n + 7u) / 8u;
        s->param_bytes += (op->bias != TM_RT_NONE ? 4u : 0u) * (uint64_t)out->c;
        s->param_bytes += 8u * (uint64_t)out->c;
    }
    s->lower_bound = s->weight_bits_bytes + s->param_bytes;
    s->fixed_bytes = sizeof(tm_rt_file_header) + sizeof(tm_rt_tensor_desc) * m->n_tensors +
                     sizeof(tm_rt_op_desc) * m->n_ops + sizeof(tm_rt_input_desc) * m->n_inputs +
                     (uint64_t)TM_RT_NAME_LEN * m->n_classes;
    uint64_t denom = s->lower_bound + s->fixed_bytes;
    s->ratio = denom ? (double)s->file_bytes / (double)denom : 0.0;
    s->blob_ratio = s->lower_bound && s->file_bytes > s->fixed_bytes
                        ? (double)(s->file_bytes - s->fixed_bytes) / (double)s->lower_bound
                        : 0.0;
    /* The arena's lower bound: at some op step every live tensor needs its
     * own bytes, whatever the plan. */
    int32_t first[TM_RT_MAX_TENSORS], last[TM_RT_MAX_TENSORS];
    tm_rt_model_plan_lifetimes(m->ops, m->n_ops, m->inputs, m->n_inputs, m->output, m->tensors,
                               m->n_tensors, first, last);
    for (int32_t step = -1; step <= (int32_t)m->n_ops; step++) {
        uint64_t live = 0;
        for (uint32_t t = 0; t < m->n_tensors; t++)
            if (first[t] <= step && step <= last[t])
                live += elems(&m->tensors[t]);
        if (live > s->peak_live_bytes)
            s->peak_live_bytes = live;
    }
}

void tm_export_print_stats(FILE *f, const tm_export_stats *s)
{
    fprintf(f, "  flash (file)        %10zu bytes\n", s->file_bytes);
    fprintf(f, "  arena               %10u bytes (activations; peak of live tensors %llu)\n",
            s->arena_bytes, (unsigned long long)s->peak_live_bytes);
    if (s->scratch_need == s->scratch_bytes)
        fprintf(f, "  scratch             %10u bytes (kernels)\n", s->scratch_bytes);
    else
        fprintf(f, "  scratch             %10u bytes (kernels; this build uses %u)\n",
                s->scratch_bytes, s->scratch_need);
    fprintf(f, "  workspace           %10u bytes (audio front end)\n", s->workspace_bytes);
    fprintf(f, "  RAM for invoke      %10zu bytes (tm_rt_model_memory_bytes, this build)\n",
            s->memory_bytes);
    for (int t = 0; t < TM_EXPORT_TARGETS; t++)
        fprintf(f, "    on %-16s %10zu bytes (%s)\n", tm_export_targets[t].name, s->ram_for[t],
                tm_export_targets[t].cores);
    if (s->streamed_tensors)
        fprintf(f, "  streamed            %10d tensors (conv / depthwise / pool chains run row by "
                   "row)\n  without streaming   RAM %zu on %s, %zu on %s, %zu on %s (arena %u; "
                   "--plan flat)\n",
                s->streamed_tensors, s->unstreamed_ram_for[0], tm_export_targets[0].name,
                s->unstreamed_ram_for[TM_EXPORT_TARGETS - 2],
                tm_export_targets[TM_EXPORT_TARGETS - 2].name,
                s->unstreamed_ram_for[TM_EXPORT_TARGETS - 1],
                tm_export_targets[TM_EXPORT_TARGETS - 1].name, s->unstreamed_arena_bytes);
    fprintf(f, "  MACs per inference  %10llu (%d weight ops: %d at 8 bits, %d at 4 bits)\n",
            (unsigned long long)s->macs, s->weight_ops, s->ops8, s->ops4);
    fprintf(f, "  weights             %10lld at 8 bits, %lld at 4 bits\n", s->params8,
            s->params4);
    fprintf(f, "  lower bound         %10llu bytes (packed weight bits %llu + bias and "
               "requantisation %llu)\n",
            (unsigned long long)s->lower_bound, (unsigned long long)s->weight_bits_bytes,
            (unsigned long long)s->param_bytes);
    fprintf(f, "  fixed               %10llu bytes (header, tensor/op/input records, class "
               "names)\n",
            (unsigned long long)s->fixed_bytes);
    fprintf(f, "  file / (lower bound + fixed) = %.4f; (file - fixed) / lower bound = %.4f\n",
            s->ratio, s->blob_ratio);
}

/* ---- writing ------------------------------------------------------------- */

/* Writes path's temporary file (tm_file_set_tmp_name) completely and syncs it. */
static tm_status write_tmp(const char *path, const char *what, int (*put)(FILE *f, const void *ctx),
                           const void *ctx, char *tmp, size_t cap)
{
    TM_TRY(tm_file_set_tmp_name(path, tmp, cap));
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return tm_error(TM_ERR_IO, "%s: cannot write the %s: %s", tmp, what, strerror(errno));
    errno = 0;
    int bad = put(f, ctx) != 0;
    bad |= fflush(f) != 0;
    bad |= fsync(fileno(f)) != 0;
    int err = errno;
    bad |= fclose(f) != 0;
    if (bad) {
        remove(tmp);
        return tm_error(TM_ERR_IO, "%s: writing the %s failed: %s", tmp, what,
                        strerror(err ? err : errno));
    }
    return TM_OK;
}

static tm_status write_atomic(const char *path, const char *what,
                              int (*put)(FILE *f, const void *ctx), const void *ctx)
{
    char tmp[TM_EXPORT_PATH_CAP];
    TM_TRY(tm_file_set_recover(&path, 1, NULL));
    TM_TRY(write_tmp(path, what, put, ctx, tmp, sizeof tmp));
    const char *t = tmp;
    return tm_file_set_commit(&t, &path, 1);
}

typedef struct {
    const uint8_t *bytes;
    size_t n;
    const char *symbol, *note;
} blob_ctx;

static int put_raw(FILE *f, const void *ctx)
{
    const blob_ctx *c = ctx;
    return fwrite(c->bytes, 1, c->n, f) == c->n ? 0 : -1;
}

tm_status tm_export_write_file(const char *path, const void *bytes, size_t n)
{
    blob_ctx c = {bytes, n, NULL, NULL};
    return write_atomic(path, "model", put_raw, &c);
}

static int put_c_array(FILE *f, const void *ctx)
{
    const blob_ctx *c = ctx;
    char up[128];
    size_t k = 0;
    for (; c->symbol[k] && k + 1 < sizeof up; k++)
        up[k] = (char)toupper((unsigned char)c->symbol[k]);
    up[k] = '\0';
    fprintf(f, "/* A TinyM2Net model file as a C array, written by tinym2net export: do not "
               "edit.\n");
    if (c->note && *c->note) {
        /* The note holds run names and paths: a "*" "/" or a line break in
         * one must not end the comment. */
        fputs(" * ", f);
        for (const char *p = c->note; *p; p++) {
            unsigned char ch = (unsigned char)*p;
            if (ch < 0x20 || ch == 0x7f)
                fputc(' ', f);
            else if (ch == '*' && p[1] == '/')
                fputs("* ", f);
            else
                fputc(ch, f);
        }
        fputc('\n', f);
    }
    fprintf(f, " * The runtime reads it in place (flash), no copy:\n"
               " *     tm_rt_model_open(&model, %s, %s_LEN);\n"
               " * Include this header in one .c file. */\n",
            c->symbol, up);
    fprintf(f, "#ifndef %s_H\n#define %s_H\n\n#include <stdint.h>\n\n", up, up);
    fprintf(f, "#define %s_LEN %zuu\n#define %s_CRC32 0x%08lxu\n\n", up, c->n, up,
            (unsigned long)tm_rt_crc32(c->bytes, c->n));
    fprintf(f, "/* The runtime reads the records in place: 4-byte alignment is required, 16\n"
               " * lets vector loads of the weights stay aligned. */\n");
    fprintf(f, "#if defined(__GNUC__) || defined(__clang__)\n"
               "#define %s_ALIGN __attribute__((aligned(16)))\n"
               "#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L\n"
               "#define %s_ALIGN _Alignas(16)\n"
               "#else\n"
               "#error \"%s: align this array to 16 bytes with your compiler's syntax\"\n"
               "#endif\n\n",
            up, up, c->symbol);
    fprintf(f, "%s_ALIGN static const uint8_t %s[%s_LEN] = {\n", up, c->symbol, up);
    for (size_t i = 0; i < c->n; i++) {
        if (i % 12 == 0)
            fputs("    ", f);
        fprintf(f, "0x%02x,", c->bytes[i]);
        fputc(i % 12 == 11 || i + 1 == c->n ? '\n' : ' ', f);
    }
    fprintf(f, "};\n\n#endif\n");
    return ferror(f) ? -1 : 0;
}

static int is_identifier(const char *s)
{
    if (!s || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
        return 0;
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || *s == '_'))
            return 0;
    return 1;
}

static tm_status check_symbol(const char *path, const char *symbol)
{
    if (!is_identifier(symbol) || strlen(symbol) > 100)
        return tm_error(TM_ERR_ARG, "%s: '%s' is not a C identifier (letters, digits, '_'; at "
                                    "most 100)",
                        path, symbol ? symbol : "");
    return TM_OK;
}

tm_status tm_export_write_c_array(const char *path, const char *symbol, const void *bytes,
                                  size_t n, const char *note)
{
    TM_TRY(check_symbol(path, symbol));
    blob_ctx c = {bytes, n, symbol, note};
    return write_atomic(path, "C array", put_c_array, &c);
}

tm_status tm_export_write_outputs(const char *model, const char *c_array, const char *symbol,
                                  const void *bytes, size_t n, const char *note)
{
    if (!c_array)
        return tm_export_write_file(model, bytes, n);
    TM_TRY(check_symbol(c_array, symbol));
    const char *dst[2] = {model, c_array};
    TM_TRY(tm_file_set_recover(dst, 2, NULL));
    char tm[TM_EXPORT_PATH_CAP], th[TM_EXPORT_PATH_CAP];
    blob_ctx raw = {bytes, n, NULL, NULL}, arr = {bytes, n, symbol, note};
    TM_TRY(write_tmp(model, "model", put_raw, &raw, tm, sizeof tm));
    tm_status s = write_tmp(c_array, "C array", put_c_array, &arr, th, sizeof th);
    if (s != TM_OK) {
        remove(tm);
        return s;
    }
    const char *tmp[2] = {tm, th};
    return tm_file_set_commit(tmp, dst, 2);
}

void tm_export_symbol(const char *path, char *buf, size_t n)
{
    if (n == 0)
        return;
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strchr(base, '.');
    size_t len = dot ? (size_t)(dot - base) : strlen(base);
    size_t k = 0;
    if (len == 0 || isdigit((unsigned char)base[0]))
        if (k + 1 < n)
            buf[k++] = '_';
    for (size_t i = 0; i < len && k + 1 < n && k < 100; i++) {
        unsigned char ch = (unsigned char)base[i];
        buf[k++] = (char)(isalnum(ch) || ch == '_' ? ch : '_');
    }
    if (k == 1 && buf[0] == '_' && len == 0 && k + 5 < n) {
        memcpy(buf + k, "model", 5);
        k += 5;
    }
    buf[k] = '\0';
}

tm_status tm_export_plan_flat(uint8_t **bytes, size_t *size)
{
    tm_rt_model m;
    if (tm_rt_model_open(&m, *bytes, *size) != TM_RT_OK)
        return tm_error(TM_ERR_FORMAT, "export: the runtime rejects the model: %s",
                        tm_rt_model_error(&m));
    if (!(m.flags & TM_RT_FLAG_STREAM))
        return TM_OK;
    uint8_t *flat = NULL;
    size_t n = 0;
    char why[128];
    if (plan_flat_copy(&m, &flat, &n, why, sizeof why) != TM_RT_OK)
        return tm_error(TM_ERR_INTERNAL, "export: planning without streaming: %s", why);
    free(*bytes);
    *bytes = flat;
    *size = n;
    return TM_OK;
}
