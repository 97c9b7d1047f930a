#include "tm_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tm_fs.h"

json_t *tm_json_doc(const char *experiment, const char *variant)
{
    json_t *d = json_object();
    int bad = !d || tm_json_set_str(d, "experiment", experiment);
    if (variant)
        bad |= tm_json_set_str(d, "variant", variant);
    if (bad) {
        json_decref(d);
        return NULL;
    }
    return d;
}

int tm_json_add_metrics(json_t *obj, const tm_metrics *m, const char (*class_names)[64],
                        const char *prefix)
{
    if (!obj || !m || !m->confusion || m->k < 1)
        return -1;
    if (!prefix)
        prefix = "";
    int k = m->k, bad = 0;
    char key[256];
#define KEY(name) (snprintf(key, sizeof key, "%s%s", prefix, name), key)
    bad |= tm_json_set_int(obj, KEY("n"), m->n);
    bad |= tm_json_set_num(obj, KEY("accuracy"), m->accuracy, -1);
    bad |= tm_json_set_num(obj, KEY("macro_f1"), m->macro_f1, -1);
    bad |= tm_json_set_num(obj, KEY("loss"), m->loss, -1);
    bad |= tm_json_set_num(obj, KEY("roc_auc"), m->roc_auc, -1);
    json_t *per = json_object(), *conf = json_array();
    for (int c = 0; c < k && per; c++) {
        char name[65];
        if (class_names)
            snprintf(name, sizeof name, "%.*s", 64, class_names[c]);
        else
            snprintf(name, sizeof name, "%d", c);
        long support = 0;
        for (int j = 0; j < k; j++)
            support += m->confusion[(size_t)c * k + j];
        json_t *one = json_object();
        bad |= tm_json_set_num(one, "precision", m->precision[c], -1);
        bad |= tm_json_set_num(one, "recall", m->recall[c], -1);
        bad |= tm_json_set_num(one, "f1", m->f1[c], -1);
        bad |= tm_json_set_int(one, "support", support);
        bad |= tm_json_set(per, name, one);
    }
    for (int r = 0; r < k && conf; r++) {
        json_t *row = json_array();
        for (int c = 0; c < k; c++)
            bad |= tm_json_push(row, json_integer(m->confusion[(size_t)r * k + c]));
        bad |= tm_json_push(conf, row);
    }
    bad |= tm_json_set(obj, KEY("per_class"), per);
    bad |= tm_json_set(obj, KEY("confusion"), conf);
#undef KEY
    return bad ? -1 : 0;
}

int tm_json_add_skipped(json_t *obj, const tm_splits *s)
{
    json_t *r = json_object();
    int bad = tm_json_set_int(r, "train", s->rows_skipped[0]);
    bad |= tm_json_set_int(r, "val", s->rows_skipped[1]);
    bad |= tm_json_set_int(r, "test", s->rows_skipped[2]);
    return tm_json_set(obj, "rows_skipped", r) | bad;
}

tm_status tm_json_commit(json_t *doc, int bad, const char *path)
{
    char *text = bad || !doc ? NULL : tm_json_dumps(doc);
    json_decref(doc);
    if (!text)
        return tm_error(TM_ERR_NOMEM, "%s: out of memory building the JSON", path);
    tm_status s = tm_atomic_write(path, text, strlen(text));
    free(text);
    return s;
}
