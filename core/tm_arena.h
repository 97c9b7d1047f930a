/* A growable bump allocator for the activations and saved state of one
 * training step: everything a forward pass makes is released at once by
 * tm_arena_reset, so steady-state training does no malloc. */
#ifndef TM_ARENA_H
#define TM_ARENA_H

#include <stddef.h>

#include "tm_status.h"
#include "tm_tensor.h"

typedef struct tm_arena_block tm_arena_block;

typedef struct tm_arena {
    tm_arena_block *blocks;  /* newest first */
    size_t block_size;       /* default size of a new block */
    size_t used_total;       /* bytes handed out since the last reset */
    size_t high_water;       /* largest used_total seen */
} tm_arena;

void tm_arena_init(tm_arena *a, size_t block_size);
/* 64-byte aligned, uninitialised; NULL (with tm_error set) when out of memory. */
void *tm_arena_alloc(tm_arena *a, size_t bytes);
void *tm_arena_calloc(tm_arena *a, size_t bytes);
/* Keeps the largest block, frees the rest, so the next step reuses it. */
void tm_arena_reset(tm_arena *a);
void tm_arena_free(tm_arena *a);
void tm_arena_release(tm_arena *a); /* frees every block, keeps settings */

/* Tensor living in the arena; data uninitialised, grad zeroed if requested. */
tm_status tm_arena_tensor(tm_arena *a, tm_tensor **out, int ndim, const int *shape,
                          int requires_grad);

#endif
