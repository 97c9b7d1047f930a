#include "tm_manifest.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static tm_status read_file(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return tm_error(TM_ERR_IO, "%s: cannot open manifest: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    if (!buf) {
        fclose(f);
        return tm_error(TM_ERR_NOMEM, "%s: out of memory", path);
    }
    for (;;) {
        if (n == cap) {
            char *nb = cap < SIZE_MAX / 2 ? realloc(buf, cap * 2) : NULL;
            if (!nb) {
                free(buf);
                fclose(f);
                return tm_error(TM_ERR_NOMEM, "%s: out of memory reading %zu bytes", path, n);
            }
            buf = nb;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
    }
    if (ferror(f)) {
        int e = errno;
        free(buf);
        fclose(f);
        return tm_error(TM_ERR_IO, "%s: cannot read manifest: %s", path, strerror(e));
    }
    fclose(f);
    *out = buf;
    *len = n;
    return TM_OK;
}

typedef struct grow {
    size_t *v;
    size_t n, cap;
} grow;

static int grow_push(grow *g, size_t x)
{
    if (g->n == g->cap) {
        size_t nc = g->cap ? g->cap * 2 : 256;
        size_t *nv = realloc(g->v, nc * sizeof *nv);
        if (!nv)
            return -1;
        g->v = nv;
        g->cap = nc;
    }
    g->v[g->n++] = x;
    return 0;
}

static int is_eol(char c) { return c == '\n' || c == '\r'; }

/* Parses buf into m->text, field offsets and row lines. */
static tm_status parse(tm_manifest *m, const char *buf, size_t len, grow *fields, grow *lines)
{
    const char *path = m->path;
    /* Every field's text is no longer than its raw bytes, and its NUL takes
     * the place of the comma or line end after it; only the last field at
     * end of file needs one more byte. */
    m->text = malloc(len + 2);
    if (!m->text)
        return tm_error(TM_ERR_NOMEM, "%s: out of memory", path);
    char *t = m->text;
    size_t i = 0, o = 0;
    int line = 1, header = 0;
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
        i = 3;
    while (i < len) {
        size_t j = i;
        while (j < len && (buf[j] == ' ' || buf[j] == '\t'))
            j++;
        if (j == len)
            break;
        if (is_eol(buf[j])) {
            i = j + (buf[j] == '\r' && j + 1 < len && buf[j + 1] == '\n' ? 2 : 1);
            line++;
            continue;
        }
        int rec_line = line;
        size_t first = fields->n;
        for (;;) {
            if (grow_push(fields, o))
                return tm_error(TM_ERR_NOMEM, "%s: out of memory", path);
            if (i < len && buf[i] == '"') {
                int qline = line;
                i++;
                for (;;) {
                    if (i >= len)
                        return tm_error(TM_ERR_FORMAT,
                                        "%s:%d: unterminated quoted field (the quote opened here "
                                        "is never closed)",
                                        path, qline);
                    char c = buf[i];
                    if (c == '"') {
                        if (i + 1 < len && buf[i + 1] == '"') {
                            t[o++] = '"';
                            i += 2;
                            continue;
                        }
                        i++;
                        break;
                    }
                    if (c == '\0')
                        return tm_error(TM_ERR_FORMAT, "%s:%d: NUL byte (not a text file?)", path,
                                        line);
                    if (c == '\n' || (c == '\r' && !(i + 1 < len && buf[i + 1] == '\n')))
                        line++;
                    t[o++] = c;
                    i++;
                }
                if (i < len && buf[i] != ',' && !is_eol(buf[i]))
                    return tm_error(TM_ERR_FORMAT,
                                    "%s:%d: text after the closing quote of field %zu", path, line,
                                    fields->n - first);
            } else {
                while (i < len && buf[i] != ',' && !is_eol(buf[i])) {
                    if (buf[i] == '"')
                        return tm_error(TM_ERR_FORMAT,
                                        "%s:%d: quote inside unquoted field %zu (quote the whole "
                                        "field and double the quote)",
                                        path, line, fields->n - first);
                    if (buf[i] == '\0')
                        return tm_error(TM_ERR_FORMAT, "%s:%d: NUL byte (not a text file?)",
                                        path, line);
                    t[o++] = buf[i++];
                }
            }
            t[o++] = '\0';
            if (i < len && buf[i] == ',') {
                i++;
                continue;
            }
            if (i < len) {
                i += buf[i] == '\r' && i + 1 < len && buf[i + 1] == '\n' ? 2 : 1;
                line++;
            }
            break;
        }
        size_t nf = fields->n - first;
        if (nf > INT_MAX / 2)
            return tm_error(TM_ERR_FORMAT, "%s:%d: %zu fields is too many", path, rec_line, nf);
        if (!header) {
            m->n_cols = (int)nf;
            header = 1;
        } else if ((int)nf != m->n_cols) {
            return tm_error(TM_ERR_FORMAT, "%s:%d: %zu field%s, header has %d", path, rec_line, nf,
                            nf == 1 ? "" : "s", m->n_cols);
        } else {
            if (lines->n >= INT_MAX)
                return tm_error(TM_ERR_FORMAT, "%s:%d: too many rows", path, rec_line);
            if (grow_push(lines, (size_t)rec_line))
                return tm_error(TM_ERR_NOMEM, "%s: out of memory", path);
        }
    }
    if (!header)
        return tm_error(TM_ERR_FORMAT, "%s: empty file (no header row)", path);
    return TM_OK;
}

static char *dup_str(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

tm_status tm_manifest_load(tm_manifest *m, const char *path)
{
    if (!m)
        return tm_error(TM_ERR_ARG, "manifest: NULL output");
    memset(m, 0, sizeof *m);
    if (!path)
        return tm_error(TM_ERR_ARG, "manifest: NULL path");
    const char *slash = strrchr(path, '/');
    m->path = dup_str(path, strlen(path));
    m->dir = slash ? dup_str(path, slash == path ? 1 : (size_t)(slash - path)) : dup_str(".", 1);
    if (!m->path || !m->dir) {
        tm_manifest_free(m);
        return tm_error(TM_ERR_NOMEM, "%s: out of memory", path);
    }
    char *buf = NULL;
    size_t len = 0;
    tm_status s = read_file(path, &buf, &len);
    if (s != TM_OK) {
        tm_manifest_free(m);
        return s;
    }
    grow fields = {0}, lines = {0};
    s = parse(m, buf, len, &fields, &lines);
    free(buf);
    if (s == TM_OK) {
        m->n_rows = (int)lines.n;
        m->col = malloc(sizeof *m->col * fields.n);
        m->line = malloc(sizeof *m->line * (lines.n ? lines.n : 1));
        if (!m->col || !m->line)
            s = tm_error(TM_ERR_NOMEM, "%s: out of memory", path);
    }
    if (s == TM_OK) {
        for (size_t k = 0; k < fields.n; k++)
            m->col[k] = m->text + fields.v[k];
        m->cell = m->col + m->n_cols;
        for (size_t r = 0; r < lines.n; r++)
            m->line[r] = (int)lines.v[r];
        for (int a = 0; a < m->n_cols && s == TM_OK; a++)
            for (int b = a + 1; b < m->n_cols; b++)
                if (m->col[a][0] && strcmp(m->col[a], m->col[b]) == 0) {
                    s = tm_error(TM_ERR_FORMAT, "%s:1: duplicate column '%s'", path, m->col[a]);
                    break;
                }
    }
    free(fields.v);
    free(lines.v);
    if (s != TM_OK)
        tm_manifest_free(m);
    return s;
}

void tm_manifest_free(tm_manifest *m)
{
    if (!m)
        return;
    free(m->path);
    free(m->dir);
    free(m->col); /* cell points into the same array */
    free(m->line);
    free(m->text);
    memset(m, 0, sizeof *m);
}

int tm_manifest_column(const tm_manifest *m, const char *name)
{
    if (!m || !name)
        return -1;
    for (int c = 0; c < m->n_cols; c++)
        if (strcmp(m->col[c], name) == 0)
            return c;
    return -1;
}

const char *tm_manifest_cell(const tm_manifest *m, int row, int col)
{
    if (!m || row < 0 || row >= m->n_rows || col < 0 || col >= m->n_cols)
        return NULL;
    return m->cell[(size_t)row * m->n_cols + col];
}

tm_status tm_manifest_path(const tm_manifest *m, int row, int col, char *buf, size_t n)
{
    const char *v = tm_manifest_cell(m, row, col);
    if (!v || !buf || n == 0)
        return tm_error(TM_ERR_ARG, "%s: no cell at row %d, column %d",
                        m && m->path ? m->path : "manifest", row, col);
    if (!v[0])
        return tm_error(TM_ERR_FORMAT, "%s:%d: empty path in column '%s'", m->path, m->line[row],
                        m->col[col]);
    int w;
    if (v[0] == '/' || strcmp(m->dir, ".") == 0)
        w = snprintf(buf, n, "%s", v);
    else if (strcmp(m->dir, "/") == 0)
        w = snprintf(buf, n, "/%s", v);
    else
        w = snprintf(buf, n, "%s/%s", m->dir, v);
    if (w < 0 || (size_t)w >= n)
        return tm_error(TM_ERR_ARG, "%s:%d: path '%s' does not fit in %zu bytes", m->path,
                        m->line[row], v, n);
    return TM_OK;
}

/* Optional sign, digits with an optional fraction, optional exponent. */
static int is_number(const char *s, double *v)
{
    const char *p = s;
    if (*p == '+' || *p == '-')
        p++;
    int digits = 0;
    while (*p >= '0' && *p <= '9')
        p++, digits++;
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++)
            digits++;
    if (!digits)
        return 0;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!(*p >= '0' && *p <= '9'))
            return 0;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p)
        return 0;
    *v = strtod(s, NULL);
    return 1;
}

typedef struct label_key {
    const char *s;
    double v;
} label_key;

static int cmp_text(const void *a, const void *b)
{
    return strcmp(((const label_key *)a)->s, ((const label_key *)b)->s);
}

static int cmp_number(const void *a, const void *b)
{
    const label_key *x = a, *y = b;
    if (x->v < y->v)
        return -1;
    if (x->v > y->v)
        return 1;
    return strcmp(x->s, y->s);
}

tm_status tm_manifest_classes(const tm_manifest *m, int col, tm_classes *out)
{
    if (!out)
        return tm_error(TM_ERR_ARG, "classes: NULL output");
    memset(out, 0, sizeof *out);
    if (!m || col < 0 || col >= m->n_cols)
        return tm_error(TM_ERR_ARG, "%s: no column %d", m && m->path ? m->path : "manifest", col);
    if (m->n_rows == 0)
        return tm_error(TM_ERR_FORMAT, "%s: no rows, so no labels in column '%s'", m->path,
                        m->col[col]);
    label_key *k = malloc(sizeof *k * m->n_rows);
    if (!k)
        return tm_error(TM_ERR_NOMEM, "%s: out of memory", m->path);
    int numeric = 1;
    for (int r = 0; r < m->n_rows; r++) {
        const char *s = m->cell[(size_t)r * m->n_cols + col];
        if (!s[0] || strlen(s) >= TM_NAME_LEN) {
            free(k);
            if (!s[0])
                return tm_error(TM_ERR_FORMAT, "%s:%d: empty label in column '%s'", m->path,
                                m->line[r], m->col[col]);
            return tm_error(TM_ERR_FORMAT, "%s:%d: label '%.40s...' in column '%s' is longer than %d bytes",
                            m->path, m->line[r], s, m->col[col], TM_NAME_LEN - 1);
        }
        k[r].s = s;
        k[r].v = 0;
        if (numeric && !is_number(s, &k[r].v))
            numeric = 0;
    }
    qsort(k, (size_t)m->n_rows, sizeof *k, numeric ? cmp_number : cmp_text);
    int n = 0;
    for (int r = 0; r < m->n_rows; r++)
        if (r == 0 || strcmp(k[r].s, k[r - 1].s) != 0)
            k[n++] = k[r];
    out->name = calloc((size_t)n, sizeof *out->name);
    if (!out->name) {
        free(k);
        return tm_error(TM_ERR_NOMEM, "%s: out of memory", m->path);
    }
    for (int c = 0; c < n; c++)
        snprintf(out->name[c], TM_NAME_LEN, "%s", k[c].s);
    out->n = n;
    free(k);
    return TM_OK;
}

int tm_classes_find(const tm_classes *c, const char *name)
{
    if (!c || !name)
        return -1;
    for (int i = 0; i < c->n; i++)
        if (strcmp(c->name[i], name) == 0)
            return i;
    return -1;
}

tm_status tm_manifest_labels(const tm_manifest *m, int col, const tm_classes *classes,
                             int *labels)
{
    if (!m || !classes || !labels || col < 0 || col >= m->n_cols)
        return tm_error(TM_ERR_ARG, "%s: bad arguments for label mapping (column %d)",
                        m && m->path ? m->path : "manifest", col);
    for (int r = 0; r < m->n_rows; r++) {
        const char *s = m->cell[(size_t)r * m->n_cols + col];
        int idx = tm_classes_find(classes, s);
        if (idx < 0)
            return tm_error(TM_ERR_FORMAT,
                            "%s:%d: unknown label '%s' in column '%s' (not one of the %d classes)",
                            m->path, m->line[r], s, m->col[col], classes->n);
        labels[r] = idx;
    }
    return TM_OK;
}

void tm_classes_free(tm_classes *c)
{
    if (!c)
        return;
    free(c->name);
    c->name = NULL;
    c->n = 0;
}
