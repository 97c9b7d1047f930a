#include "tm_json_io.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TM_JSON_FLAGS (JSON_ENCODE_ANY | JSON_REAL_PRECISION(10))

json_t *tm_json_number(double v, int decimals)
{
    if (!isfinite(v))
        return json_null();
    if (decimals >= 0) {
        double p = pow(10.0, decimals), r = round(v * p) / p;
        if (isfinite(r))
            v = r;
    }
    /* 2^53: beyond it a double no longer holds every integer. */
    if (v == floor(v) && fabs(v) < 9007199254740992.0)
        return json_integer((json_int_t)v);
    return json_real(v);
}

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4, cp = c & 0x07;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return len;
}

/* s[0..n) with invalid bytes as U+FFFD; malloc'd. */
static char *utf8_repair(const char *s, size_t n)
{
    char *out = malloc(3 * n + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t len = utf8_len((const unsigned char *)s + i, n - i);
        if (len) {
            memcpy(out + o, s + i, len);
            o += len;
            i += len;
        } else {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        }
    }
    out[o] = '\0';
    return out;
}

json_t *tm_json_text(const char *s, size_t max)
{
    if (!s)
        s = "";
    size_t n = strnlen(s, max);
    json_t *v = json_stringn(s, n);
    if (v)
        return v;
    char *fixed = utf8_repair(s, n);
    if (!fixed)
        return NULL;
    v = json_string(fixed);
    free(fixed);
    return v;
}

int tm_json_set(json_t *obj, const char *key, json_t *v)
{
    if (!obj || !v || !key) {
        json_decref(v);
        return -1;
    }
    size_t n = strlen(key), i = 0, len;
    while (i < n && (len = utf8_len((const unsigned char *)key + i, n - i)))
        i += len;
    if (i == n)
        return json_object_set_new(obj, key, v) == 0 ? 0 : -1;
    char *fixed = utf8_repair(key, n);
    if (!fixed) {
        json_decref(v);
        return -1;
    }
    int rc = json_object_set_new(obj, fixed, v) == 0 ? 0 : -1;
    free(fixed);
    return rc;
}

int tm_json_set_str(json_t *obj, const char *key, const char *s)
{
    return tm_json_set(obj, key, tm_json_text(s, (size_t)-1));
}

int tm_json_set_int(json_t *obj, const char *key, long long v)
{
    return tm_json_set(obj, key, json_integer((json_int_t)v));
}

int tm_json_set_num(json_t *obj, const char *key, double v, int decimals)
{
    return tm_json_set(obj, key, tm_json_number(v, decimals));
}

int tm_json_push(json_t *arr, json_t *v)
{
    if (!arr || !v) {
        json_decref(v);
        return -1;
    }
    return json_array_append_new(arr, v) == 0 ? 0 : -1;
}

/* ---- layout ------------------------------------------------------------- */

typedef struct {
    char *p;
    size_t n, cap;
    int bad;
} sbuf;

static void put(sbuf *b, const char *s, size_t n)
{
    if (b->bad)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->bad = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void puts_(sbuf *b, const char *s)
{
    put(b, s, strlen(s));
}

static void indent(sbuf *b, int n)
{
    static const char sp[] = "                                ";
    while (n > 0) {
        int k = n < 32 ? n : 32;
        put(b, sp, (size_t)k);
        n -= k;
    }
}

/* jansson's own text of v on one line (", " and ": " separators). */
static void compact(sbuf *b, const json_t *v)
{
    char *s = json_dumps(v, TM_JSON_FLAGS);
    if (!s) {
        b->bad = 1;
        return;
    }
    puts_(b, s);
    free(s);
}

static int nonempty_container(const json_t *x)
{
    return (json_is_object(x) && json_object_size(x)) || (json_is_array(x) && json_array_size(x));
}

static int holds_containers(const json_t *v)
{
    const char *k;
    json_t *x;
    size_t i;
    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, k, x)
            if (nonempty_container(x))
                return 1;
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, x)
            if (nonempty_container(x))
                return 1;
    }
    return 0;
}

static void layout(sbuf *b, const json_t *v, int depth, int top)
{
    int obj = json_is_object(v);
    size_t size = obj ? json_object_size(v) : json_is_array(v) ? json_array_size(v) : 0;
    if (!size || (!top && !holds_containers(v))) {
        compact(b, v);
        return;
    }
    puts_(b, obj ? "{\n" : "[\n");
    size_t i = 0;
    if (obj) {
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x) {
            indent(b, 2 * (depth + 1));
            json_t *key = json_string_nocheck(k);
            if (!key)
                b->bad = 1;
            else
                compact(b, key);
            json_decref(key);
            puts_(b, ": ");
            layout(b, x, depth + 1, 0);
            puts_(b, ++i < size ? ",\n" : "\n");
        }
    } else {
        json_t *x;
        size_t j;
        json_array_foreach(v, j, x) {
            indent(b, 2 * (depth + 1));
            layout(b, x, depth + 1, 0);
            puts_(b, ++i < size ? ",\n" : "\n");
        }
    }
    indent(b, 2 * depth);
    puts_(b, obj ? "}" : "]");
}

char *tm_json_dumps(const json_t *doc)
{
    if (!doc)
        return NULL;
    sbuf b = {0};
    layout(&b, doc, 0, 1);
    puts_(&b, "\n");
    if (b.bad) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

tm_status tm_json_put(FILE *f, const json_t *doc, const char *what)
{
    char *text = tm_json_dumps(doc);
    if (!text)
        return tm_error(TM_ERR_NOMEM, "%s: out of memory for the JSON text", what);
    int bad = fputs(text, f) < 0 || fflush(f) != 0;
    free(text);
    if (bad)
        return tm_error(TM_ERR_IO, "%s: write failed: %s", what, strerror(errno));
    return TM_OK;
}

/* ---- reading ------------------------------------------------------------ */

tm_status tm_json_load(const char *path, json_t **out)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return tm_error(TM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    json_error_t err;
    json_t *doc = json_loadf(f, 0, &err);
    fclose(f);
    if (!doc)
        return tm_error(TM_ERR_FORMAT, "%s:%d:%d: not valid JSON: %s", path, err.line,
                        err.column, err.text);
    *out = doc;
    return TM_OK;
}

double tm_json_num(const json_t *obj, const char *key)
{
    const json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
    return json_is_number(v) ? json_number_value(v) : NAN;
}
