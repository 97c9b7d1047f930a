/* The JSON documents of run folders (metrics.json) and of the commands'
 * --json reports, built with jansson (core/tm_json_io.h) and written
 * atomically. Builders return 0, or -1 when memory ran out, so a writer ORs
 * them and tm_json_commit reports one failure. */
#ifndef TM_JSON_H
#define TM_JSON_H

#include "tm_data_load.h"
#include "tm_json_io.h"
#include "tm_metrics.h"

/* {"experiment": experiment, "variant": variant} (variant NULL: absent);
 * NULL when out of memory. */
json_t *tm_json_doc(const char *experiment, const char *variant);
/* PREFIXn, PREFIXaccuracy, PREFIXmacro_f1, PREFIXloss, PREFIXroc_auc (null
 * unless two classes), PREFIXper_class {name: {precision, recall, f1,
 * support}} (names NULL: "0", "1", ...) and PREFIXconfusion (rows = true
 * class). */
int tm_json_add_metrics(json_t *obj, const tm_metrics *m, const char (*class_names)[64],
                        const char *prefix);
/* "rows_skipped": {"train": n, "val": n, "test": n}. */
int tm_json_add_skipped(json_t *obj, const tm_splits *s);
/* Writes doc to path through a temporary and a rename (tm_atomic_write)
 * and releases doc; bad (a builder's failure) or a NULL doc is an
 * out-of-memory error naming path. */
tm_status tm_json_commit(json_t *doc, int bad, const char *path);

#endif
