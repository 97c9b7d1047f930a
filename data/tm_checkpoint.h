/* A store of named float arrays and root attributes in one HDF5 file, used
 * for model weights, training checkpoints and the feature cache.
 *
 * Writing goes to "<path>.tmp.<pid>"; tm_ckpt_commit flushes, fsyncs and renames it
 * over path, so a reader sees either the old file or the complete new one,
 * never a half-written file. Arrays are stored as little-endian float32 with a
 * Fletcher-32 checksum, so corrupted data is reported instead of loaded.
 * Array names are slash-separated paths ("image/conv1/weight"); intermediate
 * groups are created as needed. Attributes live on the root group.
 *
 * Errors name the file and the dataset or attribute concerned: a missing file
 * is TM_ERR_IO, a file that is not HDF5, truncated or corrupt, a missing name
 * or a shape or type that does not match is TM_ERR_FORMAT. HDF5's own error
 * printing is switched off. The HDF5 library in use is not thread-safe: call
 * these from one thread at a time. */
#ifndef TM_CHECKPOINT_H
#define TM_CHECKPOINT_H

#include <stdint.h>

#include "tm_status.h"

#define TM_CKPT_MAX_DIMS 8

typedef struct tm_ckpt_writer tm_ckpt_writer;
typedef struct tm_ckpt_reader tm_ckpt_reader;

tm_status tm_ckpt_create(tm_ckpt_writer **w, const char *path);
/* ndim in [1, TM_CKPT_MAX_DIMS], every dimension >= 1; a name may be written once. */
tm_status tm_ckpt_put_array(tm_ckpt_writer *w, const char *name, const float *data, int ndim,
                            const int *shape);
/* Writing an attribute again replaces it. */
tm_status tm_ckpt_put_attr_string(tm_ckpt_writer *w, const char *name, const char *value);
tm_status tm_ckpt_put_attr_int(tm_ckpt_writer *w, const char *name, long long value);
tm_status tm_ckpt_put_attr_double(tm_ckpt_writer *w, const char *name, double value);
tm_status tm_ckpt_put_attr_u32_array(tm_ckpt_writer *w, const char *name, const uint32_t *v, int n);
/* Flush, close, fsync and rename "<path>.tmp.<pid>" to path; frees w whatever the
 * outcome (on failure the temporary file is removed and path is untouched). */
tm_status tm_ckpt_commit(tm_ckpt_writer *w);
/* Close, remove the temporary file, free. w may be NULL. */
void tm_ckpt_abort(tm_ckpt_writer *w);

tm_status tm_ckpt_open(tm_ckpt_reader **r, const char *path);
/* 1 when name is a dataset in the file, else 0. */
int tm_ckpt_has_array(tm_ckpt_reader *r, const char *name);
/* The stored shape must equal (ndim, shape) exactly. */
tm_status tm_ckpt_get_array(tm_ckpt_reader *r, const char *name, float *data, int ndim,
                            const int *shape);
/* *value is malloc'd and NUL-terminated; the caller frees it. */
tm_status tm_ckpt_get_attr_string(tm_ckpt_reader *r, const char *name, char **value);
tm_status tm_ckpt_get_attr_int(tm_ckpt_reader *r, const char *name, long long *value);
tm_status tm_ckpt_get_attr_double(tm_ckpt_reader *r, const char *name, double *value);
/* The attribute must hold exactly n values. */
tm_status tm_ckpt_get_attr_u32_array(tm_ckpt_reader *r, const char *name, uint32_t *v, int n);
void tm_ckpt_close(tm_ckpt_reader *r);

#endif
