/* Model building: records go into the builder, the blob into the caller's
 * buffer; finish plans the arena, lays the file out, seals it with the CRC
 * and opens it, so a file the builder returns always passes validation. */
#include <float.h>
#include <string.h>

#include "tm_rt_kernels.h"
#include "tm_rt_model.h"
#include "tm_rt_stream.h"

#define TM_RT_B_ALIGN4(x) (((x) + 3u) & ~(size_t)3u)
#define TM_RT_B_ALIGN16(x) (((x) + 15u) & ~(size_t)15u)

/* Blob offsets are uint32 and TM_RT_NONE is reserved. */
#define TM_RT_B_MAX_BLOB ((size_t)0xFFFFFF00u)

static int tm_rt_b_fail(tm_rt_builder *b, tm_rt_status s, const char *what, long index,
                        const char *reason)
{
    if (b->status == TM_RT_OK) {
        b->status = s;
        tm_rt_error_set(&b->error, s, what, index, reason);
    }
    return -1;
}

const char *tm_rt_builder_error(const tm_rt_builder *b)
{
    return b ? tm_rt_error_text(&b->error) : "NULL builder";
}

/* Adding to a failed or finished builder is refused. */
static int tm_rt_b_open(tm_rt_builder *b, const char *what)
{
    if (b->status != TM_RT_OK)
        return 0;
    if (b->file_bytes != 0) {
        tm_rt_b_fail(b, TM_RT_ERR_ARG, what, -1, "builder already finished");
        return 0;
    }
    return 1;
}

void tm_rt_builder_init(tm_rt_builder *b, void *buf, size_t cap)
{
    if (!b)
        return;
    memset(b, 0, sizeof *b);
    b->buf = (uint8_t *)buf;
    b->cap = buf ? cap : 0;
    b->output = -1;
    b->flags = TM_RT_FLAG_STREAM;
    b->status = TM_RT_OK;
    if (!buf)
        tm_rt_b_fail(b, TM_RT_ERR_ARG, "builder", -1, "output buffer is NULL");
}

uint32_t tm_rt_builder_blob(tm_rt_builder *b, const void *data, size_t bytes)
{
    if (!b || !tm_rt_b_open(b, "blob"))
        return TM_RT_NONE;
    if (!data && bytes) {
        tm_rt_b_fail(b, TM_RT_ERR_ARG, "blob", -1, "data is NULL");
        return TM_RT_NONE;
    }
    size_t off = TM_RT_B_ALIGN4(b->blob_used);
    if (bytes > TM_RT_B_MAX_BLOB || off > TM_RT_B_MAX_BLOB - bytes) {
        tm_rt_b_fail(b, TM_RT_ERR_ARG, "blob", -1, "more than 4 GiB of weights");
        return TM_RT_NONE;
    }
    if (off + bytes > b->cap) {
        tm_rt_b_fail(b, TM_RT_ERR_BUFFER, "blob", -1, "output buffer too small for the blob");
        return TM_RT_NONE;
    }
    memset(b->buf + b->blob_used, 0, off - b->blob_used);
    if (bytes)
        memcpy(b->buf + off, data, bytes);
    b->blob_used = off + bytes;
    return (uint32_t)off;
}

int32_t tm_rt_builder_tensor(tm_rt_builder *b, int32_t c, int32_t h, int32_t w, float scale,
                             int32_t zero_point)
{
    if (!b || !tm_rt_b_open(b, "tensor"))
        return -1;
    long idx = (long)b->n_tensors;
    if (b->n_tensors >= TM_RT_BUILDER_MAX_TENSORS)
        return tm_rt_b_fail(b, TM_RT_ERR_BUFFER, "tensor", idx, "more than 256 tensors");
    if (c < 1 || h < 1 || w < 1 || c > TM_RT_MAX_DIM || h > TM_RT_MAX_DIM || w > TM_RT_MAX_DIM ||
        (uint64_t)c * (uint64_t)h * (uint64_t)w > TM_RT_MAX_TENSOR_BYTES)
        return tm_rt_b_fail(b, TM_RT_ERR_ARG, "tensor", idx,
                            "dimensions must be 1..65535 with c*h*w <= 2^24");
    if (!(scale > 0.0f) || !(scale <= FLT_MAX))
        return tm_rt_b_fail(b, TM_RT_ERR_ARG, "tensor", idx, "scale must be finite and > 0");
    if (zero_point < -128 || zero_point > 127)
        return tm_rt_b_fail(b, TM_RT_ERR_ARG, "tensor", idx, "zero_point outside -128..127");
    tm_rt_tensor_desc *t = &b->tensors[b->n_tensors];
    t->c = c;
    t->h = h;
    t->w = w;
    t->scale = scale;
    t->zero_point = zero_point;
    t->arena_offset = 0;
    return (int32_t)b->n_tensors++;
}

static int tm_rt_b_tensor_ok(const tm_rt_builder *b, int32_t t)
{
    return t >= 0 && (uint32_t)t < b->n_tensors;
}

int32_t tm_rt_builder_op(tm_rt_builder *b, const tm_rt_op_desc *op)
{
    if (!b || !tm_rt_b_open(b, "op"))
        return -1;
    long idx = (long)b->n_ops;
    if (!op)
        return tm_rt_b_fail(b, TM_RT_ERR_ARG, "op", idx, "NULL op");
    if (b->n_ops >= TM_RT_BUILDER_MAX_OPS)
        return tm_rt_b_fail(b, TM_RT_ERR_BUFFER, "op", idx, "more than 256 ops");
    if (op->n_inputs < 1 || op->n_inputs > TM_RT_MAX_OP_INPUTS)
        return tm_rt_b_fail(b, TM_RT_ERR_ARG, "op", idx, "n_inputs outside 1..4");
    for (int32_t j = 0; j < op->n_inputs; j++)
        if (!tm_rt_b_tensor_ok(b, op->inputs[j]))
            return tm_rt_b_fail(b, TM_RT_ERR_ARG, "op", idx, "input is not a tensor added before");
    if (!tm_rt_b_tensor_ok(b, op->output))
        return tm_rt_b_fail(b, TM_RT_ERR_ARG, "op", idx, "output is not a tensor added before");
    tm_rt_op_desc *d = &b->ops[b->n_ops];
    *d = *op;
    for (int32_t j = op->n_inputs; j < TM_RT_MAX_OP_INPUTS; j++)
        d->inputs[j] = -1;
    return (int32_t)b->n_ops++;
}

int32_t tm_rt_builder_input(tm_rt_builder *b, const tm_rt_input_desc *in)
{
    if (!b || !tm_rt_b_open(b, "input"))
        return -1;
    long idx = (long)b->n_inputs;
    if (!in)
        return tm_rt_b_fail(b, TM_RT_ERR_ARG, "input", idx, "NULL input");
    if (b->n_inputs >= TM_RT_MAX_MODEL_INPUTS)
        return tm_rt_b_fail(b, TM_RT_ERR_BUFFER, "input", idx, "more than 4 inputs");
    if (!memchr(in->name, '\0', TM_RT_NAME_LEN))
        return tm_rt_b_fail(b, TM_RT_ERR_ARG, "input", idx, "name longer than 31 bytes");
    if (!tm_rt_b_tensor_ok(b, in->tensor))
        return tm_rt_b_fail(b, TM_RT_ERR_ARG, "input", idx, "tensor is not a tensor added before");
    if (!memchr(in->column, '\0', TM_RT_NAME_LEN))
        return tm_rt_b_fail(b, TM_RT_ERR_ARG, "input", idx, "column longer than 31 bytes");
    if (in->kind == TM_RT_INPUT_AUDIO ? in->fit != TM_RT_FIT_START && in->fit != TM_RT_FIT_CENTER
                                      : in->fit != 0)
        return tm_rt_b_fail(b, TM_RT_ERR_ARG, "input", idx,
                            "fit is not start (0) or center (1), or set on a non-audio input");
    tm_rt_input_desc *d = &b->inputs[b->n_inputs];
    *d = *in;
    /* Bytes after the name's NUL are zeroed so equal models give equal files. */
    size_t len = strlen(in->name);
    memset(d->name + len, 0, TM_RT_NAME_LEN - len);
    len = strlen(in->column);
    memset(d->column + len, 0, TM_RT_NAME_LEN - len);
    return (int32_t)b->n_inputs++;
}

void tm_rt_builder_class(tm_rt_builder *b, const char *name)
{
    if (!b || !tm_rt_b_open(b, "class name"))
        return;
    long idx = (long)b->n_classes;
    if (b->n_classes >= TM_RT_MAX_CLASSES) {
        tm_rt_b_fail(b, TM_RT_ERR_BUFFER, "class name", idx, "more than 256 classes");
        return;
    }
    if (!name || !memchr(name, '\0', TM_RT_NAME_LEN)) {
        tm_rt_b_fail(b, TM_RT_ERR_ARG, "class name", idx, "NULL or longer than 31 bytes");
        return;
    }
    memset(b->class_names[b->n_classes], 0, TM_RT_NAME_LEN);
    memcpy(b->class_names[b->n_classes], name, strlen(name));
    b->n_classes++;
}

void tm_rt_builder_label_column(tm_rt_builder *b, const char *name)
{
    if (!b || !tm_rt_b_open(b, "label column"))
        return;
    if (name && !memchr(name, '\0', TM_RT_NAME_LEN)) {
        tm_rt_b_fail(b, TM_RT_ERR_ARG, "label column", -1, "longer than 31 bytes");
        return;
    }
    memset(b->label_column, 0, TM_RT_NAME_LEN);
    if (name)
        memcpy(b->label_column, name, strlen(name));
}

void tm_rt_builder_output(tm_rt_builder *b, int32_t tensor)
{
    if (!b || !tm_rt_b_open(b, "output"))
        return;
    if (!tm_rt_b_tensor_ok(b, tensor)) {
        tm_rt_b_fail(b, TM_RT_ERR_ARG, "output", -1, "not a tensor added before");
        return;
    }
    b->output = tensor;
}

/* Offsets of the file's sections for the builder's current contents. */
typedef struct tm_rt_b_layout {
    size_t tensors, ops, inputs, classes, blob, blob_bytes, total;
} tm_rt_b_layout;

static void tm_rt_b_layout_of(const tm_rt_builder *b, tm_rt_b_layout *L)
{
    L->tensors = sizeof(tm_rt_file_header);
    L->ops = L->tensors + (size_t)b->n_tensors * sizeof(tm_rt_tensor_desc);
    L->inputs = L->ops + (size_t)b->n_ops * sizeof(tm_rt_op_desc);
    L->classes = L->inputs + (size_t)b->n_inputs * sizeof(tm_rt_input_desc);
    L->blob = TM_RT_B_ALIGN16(L->classes + (size_t)b->n_classes * TM_RT_NAME_LEN);
    L->blob_bytes = TM_RT_B_ALIGN4(b->blob_used);
    L->total = L->blob + L->blob_bytes;
}

size_t tm_rt_builder_bound(const tm_rt_builder *b)
{
    if (!b)
        return 0;
    tm_rt_b_layout L;
    tm_rt_b_layout_of(b, &L);
    return L.total;
}

/* Greedy placement, largest first, each at the lowest 16-aligned offset free
 * of every already placed tensor whose lifetime meets its own. */
static uint64_t tm_rt_b_plan(tm_rt_builder *b, const int32_t *first, const int32_t *last)
{
    uint32_t n = b->n_tensors;
    uint16_t order[TM_RT_BUILDER_MAX_TENSORS];
    uint64_t size[TM_RT_BUILDER_MAX_TENSORS];
    for (uint32_t t = 0; t < n; t++) {
        const tm_rt_tensor_desc *d = &b->tensors[t];
        size[t] = (uint64_t)d->c * (uint64_t)d->h * (uint64_t)d->w;
        /* Insertion sort: size descending, index ascending on ties. */
        uint32_t i = t;
        while (i > 0 && size[order[i - 1]] < size[t]) {
            order[i] = order[i - 1];
            i--;
        }
        order[i] = (uint16_t)t;
    }
    uint16_t placed[TM_RT_BUILDER_MAX_TENSORS];
    uint32_t n_placed = 0;
    uint64_t arena = 0;
    for (uint32_t k = 0; k < n; k++) {
        uint32_t t = order[k];
        uint64_t off = 0;
        if (b->tensors[t].arena_offset == TM_RT_STREAMED)
            continue;
        if (first[t] <= last[t]) {
            /* Live neighbours, sorted by offset. */
            uint16_t nb[TM_RT_BUILDER_MAX_TENSORS];
            uint32_t n_nb = 0;
            for (uint32_t i = 0; i < n_placed; i++) {
                uint32_t u = placed[i];
                if (first[u] > last[t] || first[t] > last[u])
                    continue;
                uint32_t j = n_nb++;
                while (j > 0 && b->tensors[nb[j - 1]].arena_offset > b->tensors[u].arena_offset) {
                    nb[j] = nb[j - 1];
                    j--;
                }
                nb[j] = (uint16_t)u;
            }
            for (uint32_t i = 0; i < n_nb; i++) {
                uint64_t u0 = b->tensors[nb[i]].arena_offset, u1 = u0 + size[nb[i]];
                if (off + size[t] <= u0)
                    break;
                if (u1 > off)
                    off = (u1 + 15u) & ~(uint64_t)15u;
            }
            placed[n_placed++] = (uint16_t)t;
        }
        if (off > TM_RT_MAX_REGION_BYTES)
            off = TM_RT_MAX_REGION_BYTES;
        b->tensors[t].arena_offset = (uint32_t)off;
        if (off + size[t] > arena)
            arena = off + size[t];
    }
    return (arena + 15u) & ~(uint64_t)15u;
}

static void tm_rt_b_write(tm_rt_builder *b, const tm_rt_b_layout *L, uint32_t arena,
                          uint32_t scratch, uint32_t workspace, uint32_t flags)
{
    tm_rt_file_header h;
    memset(&h, 0, sizeof h);
    h.magic = TM_RT_MAGIC;
    h.flags = flags;
    h.version = TM_RT_FORMAT_VERSION;
    h.header_bytes = sizeof h;
    memcpy(h.label_column, b->label_column, TM_RT_NAME_LEN);
    h.file_bytes = (uint32_t)L->total;
    h.n_tensors = b->n_tensors;
    h.n_ops = b->n_ops;
    h.n_inputs = b->n_inputs;
    h.n_classes = b->n_classes;
    h.output = b->output;
    h.arena_bytes = arena;
    h.scratch_bytes = scratch;
    h.workspace_bytes = workspace;
    h.tensors_offset = (uint32_t)L->tensors;
    h.ops_offset = (uint32_t)L->ops;
    h.inputs_offset = (uint32_t)L->inputs;
    h.classes_offset = (uint32_t)L->classes;
    h.blob_offset = (uint32_t)L->blob;
    h.blob_bytes = (uint32_t)L->blob_bytes;
    memcpy(b->buf, &h, sizeof h);
    h.crc32 = tm_rt_model_file_crc(b->buf, L->total);
    memcpy(b->buf, &h, sizeof h);
}

static uint64_t tm_rt_b_plan_flat(tm_rt_builder *b)
{
    int32_t first[TM_RT_BUILDER_MAX_TENSORS], last[TM_RT_BUILDER_MAX_TENSORS];
    tm_rt_model_plan_lifetimes(b->ops, b->n_ops, b->inputs, b->n_inputs, b->output, b->tensors,
                               b->n_tensors, first, last);
    return tm_rt_b_plan(b, first, last);
}

/* A tensor a chain may stream: a conv, depthwise or max-pool output that
 * only the next op reads, itself a conv, depthwise or max pool with one
 * input; a max pool's output ends a chain (pools shrink what is stored). */
static int tm_rt_b_streamable(const tm_rt_builder *b, uint32_t k)
{
    const tm_rt_op_desc *op = &b->ops[k], *nx = &b->ops[k + 1];
    int32_t t = op->output;
    if ((op->type != TM_RT_OP_CONV && op->type != TM_RT_OP_DEPTHWISE) || op->n_inputs != 1 ||
        (nx->type != TM_RT_OP_CONV && nx->type != TM_RT_OP_DEPTHWISE &&
         nx->type != TM_RT_OP_MAXPOOL) ||
        nx->n_inputs != 1 || nx->inputs[0] != t || t == b->output)
        return 0;
    for (uint32_t i = 0; i < b->n_inputs; i++)
        if (b->inputs[i].tensor == t)
            return 0;
    for (uint32_t j = 0; j < b->n_ops; j++)
        for (int32_t i = 0; i < b->ops[j].n_inputs; i++)
            if (b->ops[j].inputs[i] == t && j != k + 1)
                return 0;
    return 1;
}

/* With the flat plan (arena bytes `flat`) validated: streams the chains
 * when that lowers this build's RAM (arena and scratch; always with
 * TM_RT_BUILDER_FORCE_STREAM), else plans flat again. */
static uint64_t tm_rt_b_plan_stream(tm_rt_builder *b, uint64_t flat, uint32_t *flags)
{
    uint32_t n = 0, run = 0;
    *flags = 0;
    for (uint32_t k = 0; k + 1 < b->n_ops; k++) {
        run = tm_rt_b_streamable(b, k) && run + 2 <= TM_RT_STREAM_STAGES ? run + 1 : 0;
        if (run) {
            b->tensors[b->ops[k].output].arena_offset = TM_RT_STREAMED;
            n++;
        }
    }
    if (n) {
        uint64_t scr_flat = 0;
        for (uint32_t k = 0; k < b->n_ops; k++) {
            size_t need = tm_rt_model_op_scratch_bytes(&b->ops[k], b->tensors);
            scr_flat = need > scr_flat ? need : scr_flat;
        }
        for (uint32_t k = 0; k < b->n_ops; k++)
            if (b->tensors[b->ops[k].output].arena_offset == TM_RT_STREAMED &&
                tm_rt_b_streamable(b, k)) {
                tm_rt_segment sg;
                if (tm_rt_stream_plan(-1, b->ops, b->n_ops, k, b->tensors, 0, &sg)) {
                    n = 0;
                    break;
                }
                k += sg.count - 1;
            }
        if (n) {
            uint64_t arena = tm_rt_b_plan_flat(b);
            size_t scr = tm_rt_model_scratch_need_for(-1, b->ops, b->n_ops, b->tensors);
            if (scr != (size_t)-1 && arena <= TM_RT_MAX_REGION_BYTES &&
                ((b->flags & TM_RT_BUILDER_FORCE_STREAM) ||
                 TM_RT_B_ALIGN16(arena) + TM_RT_B_ALIGN16(scr) <
                     TM_RT_B_ALIGN16(flat) + TM_RT_B_ALIGN16(scr_flat))) {
                *flags = TM_RT_FLAG_STREAM;
                return arena;
            }
        }
    }
    for (uint32_t t = 0; t < b->n_tensors; t++)
        b->tensors[t].arena_offset = 0;
    return tm_rt_b_plan_flat(b);
}

void tm_rt_builder_from_model(tm_rt_builder *b, const tm_rt_model *m, void *buf, size_t cap)
{
    tm_rt_builder_init(b, buf, cap);
    if (!b || !m || !m->data) {
        if (b)
            tm_rt_b_fail(b, TM_RT_ERR_ARG, "builder", -1, "no opened model");
        return;
    }
    tm_rt_builder_blob(b, m->blob, m->blob_bytes);
    for (uint32_t t = 0; t < m->n_tensors; t++) {
        const tm_rt_tensor_desc *d = &m->tensors[t];
        tm_rt_builder_tensor(b, d->c, d->h, d->w, d->scale, d->zero_point);
    }
    for (uint32_t k = 0; k < m->n_ops; k++)
        tm_rt_builder_op(b, &m->ops[k]);
    for (uint32_t i = 0; i < m->n_inputs; i++)
        tm_rt_builder_input(b, &m->inputs[i]);
    for (uint32_t c = 0; c < m->n_classes; c++)
        tm_rt_builder_class(b, m->class_names[c]);
    tm_rt_builder_label_column(b, m->label_column);
    tm_rt_builder_output(b, m->output);
}

tm_rt_status tm_rt_builder_finish(tm_rt_builder *b, size_t *size)
{
    if (!b)
        return TM_RT_ERR_ARG;
    if (!tm_rt_b_open(b, "finish"))
        return b->status;
    if (b->n_tensors == 0 || b->n_ops == 0 || b->n_inputs == 0 || b->n_classes == 0) {
        tm_rt_b_fail(b, TM_RT_ERR_ARG, "builder", -1,
                     "a model needs at least one tensor, op, input and class");
        return b->status;
    }
    if (b->output < 0) {
        tm_rt_b_fail(b, TM_RT_ERR_ARG, "builder", -1, "no output tensor set");
        return b->status;
    }
    if ((uintptr_t)b->buf % 4u != 0) {
        tm_rt_b_fail(b, TM_RT_ERR_ARG, "builder", -1, "output buffer not 4-byte aligned");
        return b->status;
    }
    tm_rt_b_layout L;
    tm_rt_b_layout_of(b, &L);
    if (L.total > 0xFFFFFFFFu) {
        tm_rt_b_fail(b, TM_RT_ERR_ARG, "builder", -1, "file would exceed 4 GiB");
        return b->status;
    }
    if (L.total > b->cap) {
        tm_rt_b_fail(b, TM_RT_ERR_BUFFER, "builder", -1,
                     "output buffer smaller than tm_rt_builder_bound()");
        return b->status;
    }

    for (uint32_t t = 0; t < b->n_tensors; t++)
        b->tensors[t].arena_offset = 0;
    uint32_t flags = 0;
    uint64_t arena = tm_rt_b_plan_flat(b);
    if (arena > TM_RT_MAX_REGION_BYTES) {
        tm_rt_b_fail(b, TM_RT_ERR_ARG, "builder", -1, "activations need more than 2^30 bytes");
        return b->status;
    }

    /* The blob moves from the buffer's start to its place behind the tables. */
    memset(b->buf + b->blob_used, 0, L.blob_bytes - b->blob_used);
    memmove(b->buf + L.blob, b->buf, L.blob_bytes);
    memset(b->buf, 0, L.blob);
    memcpy(b->buf + L.tensors, b->tensors, (size_t)b->n_tensors * sizeof(tm_rt_tensor_desc));
    memcpy(b->buf + L.ops, b->ops, (size_t)b->n_ops * sizeof(tm_rt_op_desc));
    memcpy(b->buf + L.inputs, b->inputs, (size_t)b->n_inputs * sizeof(tm_rt_input_desc));
    memcpy(b->buf + L.classes, b->class_names, (size_t)b->n_classes * TM_RT_NAME_LEN);
    b->file_bytes = L.total;

    /* First pass with the largest scratch and workspace, so open checks the
     * structure before the kernels' and front end's sizes are asked for. */
    tm_rt_b_write(b, &L, (uint32_t)arena, TM_RT_MAX_REGION_BYTES, TM_RT_MAX_REGION_BYTES, flags);
    tm_rt_model m;
    tm_rt_status s = tm_rt_model_open(&m, b->buf, L.total);
    if (s != TM_RT_OK) {
        b->status = s;
        b->error = m.error; /* the open's reason is the builder's */
        return s;
    }
    /* Streaming is planned on the validated structure. */
    if (b->flags & TM_RT_FLAG_STREAM) {
        arena = tm_rt_b_plan_stream(b, arena, &flags);
        memcpy(b->buf + L.tensors, b->tensors, (size_t)b->n_tensors * sizeof(tm_rt_tensor_desc));
    }
    uint64_t scratch = tm_rt_model_scratch_need_for(-1, b->ops, b->n_ops, b->tensors),
             workspace = 0;
    for (uint32_t i = 0; i < b->n_inputs; i++) {
        size_t need = tm_rt_model_input_workspace_bytes(&b->inputs[i]);
        if (need > workspace)
            workspace = need;
    }
    /* Beyond 2^30 open rejects them; never let a cast wrap them small. */
    if (scratch > 0xFFFFFFFFu)
        scratch = 0xFFFFFFFFu;
    if (workspace > 0xFFFFFFFFu)
        workspace = 0xFFFFFFFFu;
    tm_rt_b_write(b, &L, (uint32_t)arena, (uint32_t)scratch, (uint32_t)workspace, flags);
    s = tm_rt_model_open(&m, b->buf, L.total);
    if (s != TM_RT_OK) {
        b->status = s;
        b->error = m.error; /* the open's reason is the builder's */
        return s;
    }
    b->arena_bytes = (uint32_t)arena;
    b->scratch_bytes = (uint32_t)scratch;
    b->workspace_bytes = (uint32_t)workspace;
    if (size)
        *size = L.total;
    return TM_RT_OK;
}

void tm_rt_add_multipliers(double sa, double sb, double so, int32_t *mult, int32_t *shift)
{
    double twice_max = 2.0 * (sa > sb ? sa : sb);
    tm_rt_quantize_multiplier(sa / twice_max, &mult[0], &shift[0]);
    tm_rt_quantize_multiplier(sb / twice_max, &mult[1], &shift[1]);
    tm_rt_quantize_multiplier(twice_max / (1048576.0 * so), &mult[2], &shift[2]);
}
