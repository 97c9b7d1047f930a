/* CSV manifests: a header row of column names, then one row per sample.
 * RFC 4180 quoting ("a,b" and "say ""hi"""), LF or CRLF line ends, a UTF-8
 * byte-order mark and blank lines (anywhere, including trailing) are
 * accepted; every non-blank row must have as many fields as the header.
 * A quote inside an unquoted field, text after a closing quote, an
 * unterminated quote and NUL bytes are errors. Every error names file:line. */
#ifndef TM_MANIFEST_H
#define TM_MANIFEST_H

#include <stddef.h>

#include "tm_dataset.h"
#include "tm_status.h"

typedef struct tm_manifest {
    char *path;        /* as given to tm_manifest_load; owned */
    char *dir;         /* folder relative paths are resolved against; owned */
    int n_cols;
    int n_rows;        /* data rows, header excluded */
    char **col;        /* n_cols column names (point into text) */
    char **cell;       /* n_rows * n_cols fields, row-major (point into text) */
    int *line;         /* n_rows: 1-based line where each row starts */
    char *text;        /* storage for all strings; owned */
} tm_manifest;

/* Reads a manifest file. Errors: TM_ERR_IO (missing, unreadable),
 * TM_ERR_FORMAT (empty, bad quoting, wrong field count, duplicate column). */
tm_status tm_manifest_load(tm_manifest *m, const char *path);
void tm_manifest_free(tm_manifest *m);

/* Index of the column called name (exact match), or -1. */
int tm_manifest_column(const tm_manifest *m, const char *name);
/* The field at row, col (0-based, header excluded); NULL when out of range. */
const char *tm_manifest_cell(const tm_manifest *m, int row, int col);

/* Writes the field at row, col as a path into buf: absolute paths are kept,
 * relative ones are joined to the manifest's folder. An empty field is a
 * TM_ERR_FORMAT naming file:line; a buffer that is too small TM_ERR_ARG. */
tm_status tm_manifest_path(const tm_manifest *m, int row, int col, char *buf, size_t n);

/* Class names: the distinct labels of one column, sorted numerically when
 * every label is a number (ties broken by the text), else by byte order. */
typedef struct tm_classes {
    int n;
    char (*name)[TM_NAME_LEN]; /* n names; owned */
} tm_classes;

/* Collects the sorted distinct labels of column col. Empty labels and labels
 * of TM_NAME_LEN bytes or more are TM_ERR_FORMAT naming file:line. */
tm_status tm_manifest_classes(const tm_manifest *m, int col, tm_classes *out);
/* Maps every row's label in column col to its index in classes (labels has
 * n_rows entries). A label not in classes is TM_ERR_FORMAT naming file:line
 * and the label. */
tm_status tm_manifest_labels(const tm_manifest *m, int col, const tm_classes *classes,
                             int *labels);
/* Index of name in classes, or -1. */
int tm_classes_find(const tm_classes *c, const char *name);
void tm_classes_free(tm_classes *c);

#endif
