#include "tm_arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct tm_arena_block {
    tm_arena_block *next;
    size_t cap, used;
    unsigned char *mem;
};

#define TM_ALIGN 64

void tm_arena_init(tm_arena *a, size_t block_size)
{
    memset(a, 0, sizeof *a);
    a->block_size = block_size ? block_size : ((size_t)1 << 22);
}

static tm_arena_block *new_block(size_t cap)
{
    tm_arena_block *b = malloc(sizeof *b);
    if (!b)
        return NULL;
    cap = (cap + TM_ALIGN - 1) / TM_ALIGN * TM_ALIGN; /* aligned_alloc needs a multiple */
    b->mem = aligned_alloc(TM_ALIGN, cap);
    if (!b->mem) {
        free(b);
        return NULL;
    }
    b->cap = cap;
    b->used = 0;
    b->next = NULL;
    return b;
}

void *tm_arena_alloc(tm_arena *a, size_t bytes)
{
    size_t need = (bytes + TM_ALIGN - 1) / TM_ALIGN * TM_ALIGN;
    if (need == 0)
        need = TM_ALIGN;
    tm_arena_block *b = a->blocks;
    if (!b || b->cap - b->used < need) {
        size_t cap = a->block_size;
        while (cap < need)
            cap *= 2;
        b = new_block(cap);
        if (!b) {
            tm_error(TM_ERR_NOMEM, "arena: out of memory for %zu bytes", bytes);
            return NULL;
        }
        b->next = a->blocks;
        a->blocks = b;
    }
    void *p = b->mem + b->used;
    b->used += need;
    a->used_total += need;
    if (a->used_total > a->high_water)
        a->high_water = a->used_total;
    return p;
}

void *tm_arena_calloc(tm_arena *a, size_t bytes)
{
    void *p = tm_arena_alloc(a, bytes);
    if (p)
        memset(p, 0, bytes);
    return p;
}

void tm_arena_reset(tm_arena *a)
{
    tm_arena_block *b = a->blocks;
    if (b && !b->next) {
        b->used = 0;
    } else {
        /* Several blocks: replace them by one that holds a whole step. */
        tm_arena_release(a);
        if (a->high_water > a->block_size)
            a->block_size = a->high_water + a->high_water / 4;
    }
    a->used_total = 0;
}

void tm_arena_release(tm_arena *a)
{
    tm_arena_block *b = a->blocks;
    while (b) {
        tm_arena_block *n = b->next;
        free(b->mem);
        free(b);
        b = n;
    }
    a->blocks = NULL;
    a->used_total = 0;
}

void tm_arena_free(tm_arena *a)
{
    tm_arena_release(a);
    memset(a, 0, sizeof *a);
}

tm_status tm_arena_tensor(tm_arena *a, tm_tensor **out, int ndim, const int *shape,
                          int requires_grad)
{
    *out = NULL;
    if (ndim < 1 || ndim > TM_MAX_DIMS)
        return tm_error(TM_ERR_ARG, "tensor: %d dimensions (1..%d allowed)", ndim, TM_MAX_DIMS);
    for (int i = 0; i < ndim; i++)
        if (shape[i] <= 0)
            return tm_error(TM_ERR_SHAPE, "tensor: dimension %d is %d", i, shape[i]);
    tm_tensor *t = tm_arena_alloc(a, sizeof *t);
    if (!t)
        return TM_ERR_NOMEM;
    memset(t, 0, sizeof *t);
    t->ndim = ndim;
    memcpy(t->shape, shape, sizeof(int) * (size_t)ndim);
    t->size = tm_shape_size(ndim, shape);
    t->requires_grad = requires_grad;
    t->data = tm_arena_alloc(a, t->size * sizeof(float));
    if (!t->data)
        return TM_ERR_NOMEM;
    if (requires_grad) {
        t->grad = tm_arena_calloc(a, t->size * sizeof(float));
        if (!t->grad)
            return TM_ERR_NOMEM;
    }
    *out = t;
    return TM_OK;
}
