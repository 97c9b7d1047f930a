/* JSON through jansson: values built from C data (numbers that are NaN or
 * infinite become null, text that is not UTF-8 is repaired), the project's
 * layout of a document, and reading one back. Every JSON file the project
 * writes or reads goes through these and experiments/tm_json.h. */
#ifndef TM_JSON_IO_H
#define TM_JSON_IO_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

#include "tm_status.h"

/* v rounded to `decimals` places (< 0: not rounded); null when not finite;
 * an integer when integral, so 1 stays "1" (the printf("%.10g") form the
 * files have always had). New reference, NULL when out of memory. */
json_t *tm_json_number(double v, int decimals);
/* s (at most max bytes, stopping at NUL) as a JSON string; bytes that do
 * not form UTF-8 become U+FFFD. New reference, NULL when out of memory. */
json_t *tm_json_text(const char *s, size_t max);

/* obj[key] = v, stealing v (also on failure); key repaired like
 * tm_json_text. 0, or -1 when v is NULL or memory runs out, so builders
 * can OR the results and report one failure. */
int tm_json_set(json_t *obj, const char *key, json_t *v);
int tm_json_set_str(json_t *obj, const char *key, const char *s);
int tm_json_set_int(json_t *obj, const char *key, long long v);
int tm_json_set_num(json_t *obj, const char *key, double v, int decimals);
/* arr += v, stealing v; as tm_json_set. */
int tm_json_push(json_t *arr, json_t *v);

/* The document's text: two-space indent, one member per line for the
 * document and for containers holding containers, every other container
 * on one line ({"a": 1, "b": 2}); reals with 10 significant digits; a
 * final newline. malloc'd (caller frees), NULL when out of memory. */
char *tm_json_dumps(const json_t *doc);
/* Writes tm_json_dumps(doc) to f; `what` names f in the error. */
tm_status tm_json_put(FILE *f, const json_t *doc, const char *what);

/* Parses the file at path into *out (caller json_decref's it). */
tm_status tm_json_load(const char *path, json_t **out);
/* obj[key] as a double; NAN when absent, null or not a number. */
double tm_json_num(const json_t *obj, const char *key);

#endif
