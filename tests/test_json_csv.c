/* Every JSON and CSV file the commands write parses, with an experiment
 * name and class names holding quotes, backslashes, commas and non-ASCII
 * UTF-8: train, eval, quantize, search --json, export --json and
 * tinym2net-run --json --scores --logits on small generated PNGs. The JSON
 * files are read back with jansson here, the CSV files with Python's csv
 * module (exit 77 without python3). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tm_csv.h"
#include "tm_json_io.h"
#include "tm_test_util.h"

static char exe[4096], run_exe[4096];
static char out[1 << 20];

#define run(...) tm_test_run_exe(exe, out, sizeof out, __VA_ARGS__)

static const char *const EXPERIMENT = "tiny \"json\", \\d, ñandú";
static const char *const CLASSES[2] = {"a\"b\\c, 'q'", "dígito \"3\", \\x"}; /* sorted, as the classes are */

/* A manifest field as RFC 4180 wants it: quoted, quotes doubled. */
static void put_quoted(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void write_manifest(const char *dir, const char *name, int n)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "image,label\n");
    for (int i = 0; i < n; i++) {
        uint8_t px[64];
        int cls = i % 2;
        for (int p = 0; p < 64; p++)
            px[p] = (uint8_t)(cls ? 200 + (p * 7 + i) % 50 : (p * 5 + i) % 50);
        char png[4300];
        snprintf(png, sizeof png, "%s/%s-%d.png", dir, name, i);
        tm_test_write_png(png, px, 8, 8);
        fprintf(f, "%s-%d.png,", name, i);
        put_quoted(f, CLASSES[cls]);
        fputc('\n', f);
    }
    ck_assert_int_eq(fclose(f), 0);
}

static json_t *load(const char *dir, const char *name)
{
    char path[4300];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    json_error_t err;
    json_t *d = json_load_file(path, 0, &err);
    ck_assert_msg(d != NULL, "%s: line %d: %s", path, err.line, err.text);
    ck_assert(json_is_object(d));
    return d;
}

static const char *str_of(const json_t *d, const char *key)
{
    const char *s = json_string_value(json_object_get(d, key));
    ck_assert_msg(s != NULL, "no string %s", key);
    return s;
}

/* obj's keys are exactly the class names, in order. */
static void expect_class_keys(const json_t *obj, const char *what)
{
    ck_assert_msg(json_is_object(obj), "%s: not an object", what);
    ck_assert_int_eq(json_object_size(obj), 2);
    int i = 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v)
        ck_assert_msg(!strcmp(k, CLASSES[i++]), "%s: key '%s'", what, k);
}

static void expect_class_array(const json_t *arr, const char *what)
{
    ck_assert_msg(json_array_size(arr) == 2, "%s: not two classes", what);
    for (size_t i = 0; i < 2; i++)
        ck_assert_str_eq(json_string_value(json_array_get(arr, i)), CLASSES[i]);
}

/* The writers alone: RFC 4180 edge cases through Python's csv module, and
 * the JSON values jansson cannot take as they are. */
START_TEST(writers_quote_escape_and_repair)
{
    char *dir = tm_test_tmpdir("writers");
    ck_assert_ptr_nonnull(dir);
    static const char *const fields[] = {"plain", "", " lead", "trail\t", "a,b", "q\"q\"",
                                         "line\nbreak", "cr\rx", "ñ, \\"};
    enum { NF = sizeof fields / sizeof *fields };
    char path[4300], cmd[9000];
    snprintf(path, sizeof path, "%s/w.csv", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    tm_csv w;
    tm_csv_init(&w, f);
    for (int r = 0; r < 2; r++) {
        for (int i = 0; i < NF; i++)
            tm_csv_str(&w, fields[i]);
        tm_csv_end(&w);
    }
    tm_csv_int(&w, -3);
    tm_csv_fmt(&w, "%.2f", 0.5);
    tm_csv_end(&w);
    ck_assert_int_eq(tm_csv_failed(&w), 0);
    ck_assert_int_eq(fclose(f), 0);
    size_t tn = 0;
    char *text = tm_test_slurp(path, &tn);
    ck_assert_ptr_nonnull(text);
    ck_assert_msg(!strncmp(text, "plain,,\" lead\",\"trail\t\",\"a,b\",\"q\"\"q\"\"\",", 39), "%s",
                  text);
    free(text);
    json_t *want = json_array();
    for (int i = 0; i < NF; i++)
        json_array_append_new(want, json_string(fields[i]));
    char wpath[4300];
    snprintf(wpath, sizeof wpath, "%s/want.json", dir);
    ck_assert_int_eq(json_dump_file(want, wpath, 0), 0);
    json_decref(want);
    snprintf(cmd, sizeof cmd,
             "python3 -c \"import csv, json, sys\n"
             "w = json.load(open(sys.argv[2], encoding='utf-8'))\n"
             "r = list(csv.reader(open(sys.argv[1], newline='', encoding='utf-8'), strict=True))\n"
             "assert r == [w, w, ['-3', '0.50']], r\" '%s' '%s' 2>&1",
             path, wpath);
    ck_assert_msg(tm_test_run_cmd(cmd, out, sizeof out) == 0, "%s", out);

    json_t *d = json_object();
    ck_assert_int_eq(tm_json_set_num(d, "nan", 0.0 / 0.0, -1), 0);
    ck_assert_int_eq(tm_json_set_num(d, "one", 1.0, 6), 0);
    ck_assert_int_eq(tm_json_set_num(d, "third", 1.0 / 3.0, -1), 0);
    ck_assert_int_eq(tm_json_set_num(d, "rounded", 0.1234567, 3), 0);
    ck_assert_int_eq(tm_json_set_str(d, "bad\xff key", "x\xc3(\xed\xa0\x80y"), 0);
    json_t *in = json_object();
    ck_assert_int_eq(tm_json_set_int(in, "a", 1), 0);
    ck_assert_int_eq(tm_json_set(d, "small", in), 0);
    ck_assert_int_eq(tm_json_set(d, "null value", NULL), -1);
    char *t = tm_json_dumps(d);
    json_decref(d);
    ck_assert_ptr_nonnull(t);
    ck_assert_str_eq(t, "{\n  \"nan\": null,\n  \"one\": 1,\n  \"third\": 0.3333333333,\n"
                        "  \"rounded\": 0.123,\n"
                        "  \"bad\xef\xbf\xbd key\": \"x\xef\xbf\xbd(\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdy\",\n"
                        "  \"small\": {\"a\": 1}\n}\n");
    json_error_t err;
    json_t *back = json_loads(t, 0, &err);
    ck_assert_msg(back != NULL, "%s", err.text);
    json_decref(back);
    free(t);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(tm_test_run_cmd(cmd, out, sizeof out), 0);
    free(dir);
}
END_TEST

START_TEST(names_round_trip_through_every_json_and_csv)
{
    if (!tm_test_build_exe(exe, sizeof exe, "tinym2net") ||
        !tm_test_build_exe(run_exe, sizeof run_exe, "tinym2net-run"))
        return;
    char *dir = tm_test_tmpdir("jsoncsv");
    ck_assert_ptr_nonnull(dir);
    write_manifest(dir, "train.csv", 24);
    write_manifest(dir, "test.csv", 8);
    char cfg[4300], p[4300];
    snprintf(cfg, sizeof cfg, "%s/exp.cfg", dir);
    FILE *f = fopen(cfg, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f,
            "[experiment]\nname = %s\nseed = 0\nthreads = 1\n\n"
            "[data]\nsource = manifest\nroot = %s\ntrain = train.csv\ntest = test.csv\n"
            "val_fraction = 0.25\nlabel_column = label\ncache = %s/cache\n\n"
            "[train]\nepochs = 2\nbatch_size = 4\noptimizer = adam\nlr = 0.01\n\n"
            "[image]\ninput = 1x8x8\nfeature = image\ncolumn = image\n\n"
            "[image.c1]\ntype = conv\nfilters = 2\nsize = 3\npadding = same\n"
            "activation = relu\n\n[image.flat]\ntype = flatten\n\n"
            "[head.out]\ntype = dense\nunits = classes\n",
            EXPERIMENT, dir, dir);
    ck_assert_int_eq(fclose(f), 0);

    ck_assert_msg(run("train '%s' --out '%s/r' --quiet", cfg, dir) == 0, "%s", out);
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "'%s' eval '%s/r' > '%s/eval.json' 2>/dev/null", exe, dir, dir);
    ck_assert_int_eq(tm_test_run_cmd(cmd, out, sizeof out), 0);
    ck_assert_msg(run("quantize '%s/r' --out '%s/q' --qat-epochs 0 --quiet", dir, dir) == 0, "%s",
                  out);
    ck_assert_msg(run("search '%s/r' --budget-bytes 200 --out '%s/s' --qat-epochs 0 "
                      "--pareto-points 2 --json '%s/search.json' --quiet",
                      dir, dir, dir) == 0,
                  "%s", out);
    ck_assert_msg(run("export '%s/q' -o '%s/m.tm2n' --json '%s/export.json' --quiet", dir, dir,
                      dir) == 0,
                  "%s", out);
    snprintf(cmd, sizeof cmd,
             "'%s' '%s/m.tm2n' --manifest '%s/test.csv' --json '%s/run.json' --scores "
             "'%s/scores.csv' --logits '%s/logits.csv' --dump-inputs '%s/in.bin' --quiet 2>&1",
             run_exe, dir, dir, dir, dir, dir, dir);
    ck_assert_msg(tm_test_run_cmd(cmd, out, sizeof out) == 0, "%s", out);
    /* the device-side runner (runtime and libc only) prints the same logits
     * CSV byte for byte, quoting the class names the same way */
    snprintf(cmd, sizeof cmd,
             "cc -std=c99 -O1 -I'%s/runtime' '%s/runtime/tools/tm_rt_run_inputs.c' "
             "'%s'/runtime/tm_rt_*.c -lm -o '%s/rri' 2>&1 && '%s/rri' '%s/m.tm2n' '%s/in.bin' > "
             "'%s/logits-device.csv' && cmp '%s/logits.csv' '%s/logits-device.csv' 2>&1",
             tm_test_source_dir(), tm_test_source_dir(), tm_test_source_dir(), dir, dir, dir, dir,
             dir, dir, dir);
    ck_assert_msg(tm_test_run_cmd(cmd, out, sizeof out) == 0, "device runner's CSV: %s", out);

    /* metrics.json of train, quantize and search; eval's output */
    const char *metrics[] = {"r/metrics.json", "q/metrics.json", "s/metrics.json", "eval.json"};
    for (int i = 0; i < 4; i++) {
        json_t *d = load(dir, metrics[i]);
        if (i < 3)
            ck_assert_str_eq(str_of(d, "experiment"), EXPERIMENT);
        expect_class_keys(json_object_get(d, "test_per_class"), metrics[i]);
        json_t *conf = json_object_get(d, "test_confusion");
        ck_assert_int_eq(json_array_size(conf), 2);
        ck_assert_int_eq(json_integer_value(json_object_get(d, "test_n")), 8);
        json_decref(d);
    }

    /* search --json: bits as {layer: bits}, the budget, the accuracies */
    json_t *d = load(dir, "search.json");
    ck_assert_str_eq(str_of(d, "experiment"), EXPERIMENT);
    ck_assert_int_eq(json_integer_value(json_object_get(d, "budget_bytes")), 200);
    json_t *bits = json_object_get(d, "bits"), *layers = json_object_get(d, "layers"), *l;
    ck_assert_int_eq(json_object_size(bits), 2);
    ck_assert_int_eq(json_array_size(layers), 2);
    json_int_t bytes = 0;
    size_t li;
    json_array_foreach(layers, li, l) {
        json_int_t b = json_integer_value(json_object_get(bits, str_of(l, "name")));
        ck_assert_msg(b == 4 || b == 8, "bits %lld", (long long)b);
        ck_assert_int_eq(json_integer_value(json_object_get(l, "bits")), b);
        bytes += json_integer_value(json_object_get(l, "bytes"));
    }
    ck_assert_int_eq(json_integer_value(json_object_get(d, "weight_bytes")), bytes);
    ck_assert_int_le(bytes, 200);
    ck_assert_int_eq(json_array_size(json_object_get(d, "pareto")), 2);
    ck_assert(json_is_number(json_object_get(json_object_get(d, "test_accuracy"), "integer")));
    json_decref(d);

    /* export --json: sizes, inputs, classes, the layers' bits */
    d = load(dir, "export.json");
    ck_assert_str_eq(str_of(d, "experiment"), EXPERIMENT);
    expect_class_array(json_object_get(d, "classes"), "export.json classes");
    snprintf(p, sizeof p, "%s/m.tm2n", dir);
    size_t n = 0;
    char *model = tm_test_slurp(p, &n);
    ck_assert_ptr_nonnull(model);
    free(model);
    ck_assert_int_eq(json_integer_value(json_object_get(d, "flash_bytes")), (json_int_t)n);
    ck_assert_int_gt(json_integer_value(json_object_get(d, "arena_bytes")), 0);
    ck_assert_int_gt(json_integer_value(json_object_get(d, "macs")), 0);
    json_t *in = json_array_get(json_object_get(d, "inputs"), 0);
    ck_assert_str_eq(str_of(in, "kind"), "image");
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(d, "bits"), "image.c1")),
                     8); /* quantize's default: the layers' bits keys, 8 when absent */
    json_decref(d);

    /* tinym2net-run --json: accuracy = right / labelled, per-class counts */
    d = load(dir, "run.json");
    expect_class_array(json_object_get(d, "classes"), "run.json classes");
    json_int_t right = json_integer_value(json_object_get(d, "right"));
    ck_assert_int_eq(json_integer_value(json_object_get(d, "labelled")), 8);
    ck_assert_double_eq_tol(json_number_value(json_object_get(d, "accuracy")), right / 8.0,
                            1e-9);
    json_t *per = json_object_get(d, "per_class");
    expect_class_keys(per, "run.json per_class");
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(per, CLASSES[0]),
                                                        "support")),
                     4);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(d, "memory"),
                                                        "arena_bytes")) > 0,
                     1);
    json_decref(d);

    /* every CSV: each row has the header's field count; the names round-trip */
    json_t *names = json_array();
    for (int i = 0; i < 2; i++)
        json_array_append_new(names, json_string(CLASSES[i]));
    snprintf(p, sizeof p, "%s/names.json", dir);
    ck_assert_int_eq(json_dump_file(names, p, 0), 0);
    json_decref(names);
    char script[4300];
    snprintf(script, sizeof script, "%s/check.py", dir);
    f = fopen(script, "w");
    ck_assert_ptr_nonnull(f);
    fputs("import csv, json, sys\n"
          "d = sys.argv[1]\n"
          "names = json.load(open(d + '/names.json', encoding='utf-8'))\n"
          "def rows(name):\n"
          "    with open(d + '/' + name, newline='', encoding='utf-8') as f:\n"
          "        r = list(csv.reader(f, strict=True))\n"
          "    assert len(r) > 1, name\n"
          "    for i, row in enumerate(r):\n"
          "        assert len(row) == len(r[0]), (name, i, row, r[0])\n"
          "    return r\n"
          "s = rows('scores.csv')\n"
          "assert s[0] == ['row', 'label', 'predicted'] + names, s[0]\n"
          "assert len(s) == 9, len(s)\n"
          "for row in s[1:]:\n"
          "    assert row[1] in names and row[2] in names, row\n"
          "    assert abs(sum(float(x) for x in row[3:]) - 1) < 1e-3, row\n"
          "l = rows('logits.csv')\n"
          "assert l[0] == ['row'] + names, l[0]\n"
          "assert all(-128 <= int(x) <= 127 for row in l[1:] for x in row[1:])\n"
          "g = rows('r/log.csv')\n"
          "assert g[0][:2] == ['epoch', 'lr'] and len(g) == 3, g\n"
          "p = rows('s/pareto.csv')\n"
          "assert p[0][0] == 'budget_bytes' and p[0][-1] == 'bits' and len(p) == 3, p\n"
          "for name in ('r/metrics.json', 'q/metrics.json', 's/metrics.json', 'eval.json',\n"
          "             'search.json', 'export.json', 'run.json'):\n"
          "    json.load(open(d + '/' + name, encoding='utf-8'),\n"
          "              parse_constant=lambda c: sys.exit(name + ': constant ' + c))\n",
          f);
    ck_assert_int_eq(fclose(f), 0);
    snprintf(cmd, sizeof cmd, "python3 '%s' '%s' 2>&1", script, dir);
    ck_assert_msg(tm_test_run_cmd(cmd, out, sizeof out) == 0, "%s", out);

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(tm_test_run_cmd(cmd, out, sizeof out), 0);
    free(dir);
}
END_TEST

int main(void)
{
    if (system("command -v python3 >/dev/null 2>&1") != 0) {
        printf("skip: python3 not on PATH (the CSV files are checked with its csv module)\n");
        return 77;
    }
    Suite *s = suite_create("json_csv");
    TCase *tc = tcase_create("cli");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, writers_quote_escape_and_repair);
    tcase_add_test(tc, names_round_trip_through_every_json_and_csv);
    suite_add_tcase(s, tc);
    return tm_test_run(s);
}
