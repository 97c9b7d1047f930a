/* Experiment files: parsing, --set overrides and errors naming file:line. */
#include <dirent.h>
#include <stdio.h>
#include <string.h>

#include "tm_experiment.h"
#include "tm_model.h"
#include "tm_test_util.h"

static const char *base =
    "[experiment]\n"          /* 1 */
    "name = t\n"              /* 2 */
    "seed = 3\n"              /* 3 */
    "\n"                      /* 4 */
    "[train]\n"               /* 5 */
    "epochs = 2\n"            /* 6 */
    "lr = 0.01\n"             /* 7 */
    "\n"                      /* 8 */
    "[a]\n"                   /* 9 */
    "input = 1x8x8\n"         /* 10 */
    "[a.c]\n"                 /* 11 */
    "type = conv\n"           /* 12 */
    "filters = 4\n"           /* 13 */
    "[a.f]\n"                 /* 14 */
    "type = flatten\n"        /* 15 */
    "[b]\n"                   /* 16 */
    "input = 1x4x6\n"         /* 17 */
    "[b.f]\n"                 /* 18 */
    "type = flatten\n"        /* 19 */
    "[fusion]\n"              /* 20 */
    "type = concat\n"         /* 21 */
    "[head.out]\n"            /* 22 */
    "type = dense\n"          /* 23 */
    "units = classes\n";      /* 24 */

/* A layer too big to build is the experiment's mistake at its line, found
 * before any allocation (it used to be "out of memory for 6614417408
 * floats" with no file). */
START_TEST(oversized_layer_names_its_line)
{
    const char *text = "[experiment]\nname = big\n[a]\ninput = 1x80x80\n[a.f]\ntype = flatten\n"
                       "[head.fc]\ntype = dense\nunits = 1048576\n[head.out]\ntype = dense\n"
                       "units = classes\n";
    tm_experiment e;
    TM_CK(tm_experiment_parse(&e, text, "big.cfg", NULL, 0));
    tm_experiment_set_classes(&e, 2);
    tm_rng r;
    tm_rng_seed(&r, 1);
    tm_model *m = NULL;
    ck_assert_int_eq(tm_model_build(&m, &e.model, &r), TM_ERR_CONFIG);
    ck_assert_msg(strstr(tm_last_error(), "big.cfg:7: layer head.fc") &&
                      strstr(tm_last_error(), "over the limit"),
                  "%s", tm_last_error());
    ck_assert_ptr_null(m);
    tm_experiment_free(&e);
}
END_TEST

START_TEST(parses_a_two_branch_experiment)
{
    tm_experiment e;
    TM_CK(tm_experiment_parse(&e, base, "x.cfg", NULL, 0));
    ck_assert_str_eq(e.name, "t");
    ck_assert_uint_eq(e.seed, 3);
    ck_assert_int_eq(e.train.epochs, 2);
    ck_assert_float_eq_tol(e.train.schedule.base_lr, 0.01f, 1e-7f);
    ck_assert_int_eq(e.model.n_branches, 2);
    ck_assert_str_eq(e.model.branches[0].name, "a");
    ck_assert_int_eq(e.model.branches[0].n_layers, 2);
    ck_assert_int_eq(e.model.branches[0].layers[0].kind, TM_LAYER_CONV);
    ck_assert_int_eq(e.model.branches[0].layers[0].filters, 4);
    ck_assert_int_eq(e.model.branches[0].layers[0].line, 11);
    ck_assert_int_eq(e.model.branches[1].input[2], 6);
    ck_assert_int_eq(e.model.n_head, 1);
    tm_experiment_set_classes(&e, 5);
    ck_assert_int_eq(e.model.head[0].filters, 5);
    /* the effective text parses back to the same experiment */
    tm_experiment e2;
    TM_CK(tm_experiment_parse(&e2, e.text, "again", NULL, 0));
    ck_assert_str_eq(e2.text, e.text);
    tm_experiment_free(&e2);
    tm_experiment_free(&e);
}
END_TEST

START_TEST(set_overrides_and_adds_keys)
{
    const char *sets[] = {"train.epochs=7", "a.c.filters = 9", "a.c.stride=2"};
    tm_experiment e;
    TM_CK(tm_experiment_parse(&e, base, "x.cfg", sets, 3));
    ck_assert_int_eq(e.train.epochs, 7);
    ck_assert_int_eq(e.model.branches[0].layers[0].filters, 9);
    ck_assert_int_eq(e.model.branches[0].layers[0].stride, 2);
    ck_assert_ptr_nonnull(strstr(e.text, "filters = 9"));
    tm_experiment_free(&e);
}
END_TEST

/* Parses base with one line replaced (or appended) and expects an error
 * whose message contains every needle. */
static void expect_error(const char *text, const char *const *sets, int n_sets,
                         const char *needle1, const char *needle2)
{
    tm_experiment e;
    tm_status s = tm_experiment_parse(&e, text, "x.cfg", sets, n_sets);
    ck_assert_msg(s == TM_ERR_CONFIG, "expected a config error for needle '%s', got %s",
                  needle1, tm_status_name(s));
    ck_assert_msg(strstr(tm_last_error(), needle1), "'%s' not in: %s", needle1, tm_last_error());
    if (needle2)
        ck_assert_msg(strstr(tm_last_error(), needle2), "'%s' not in: %s", needle2,
                      tm_last_error());
}

static char *replace(const char *from, const char *to)
{
    static char buf[4096];
    const char *p = strstr(base, from);
    ck_assert_ptr_nonnull(p);
    snprintf(buf, sizeof buf, "%.*s%s%s", (int)(p - base), base, to, p + strlen(from));
    return buf;
}

START_TEST(errors_name_file_line_and_reason)
{
    expect_error(replace("lr = 0.01", "learning_rate = 0.01"), NULL, 0, "x.cfg:7",
                 "unknown key 'learning_rate'");
    expect_error(replace("epochs = 2", "epochs = two"), NULL, 0, "x.cfg:6", "not a whole number");
    expect_error(replace("epochs = 2", "epochs = 0"), NULL, 0, "x.cfg:6", "out of range");
    expect_error(replace("lr = 0.01", "lr = nan"), NULL, 0, "x.cfg:7", "not a number");
    expect_error(replace("input = 1x8x8", "input = 1x8"), NULL, 0, "x.cfg:10", "CxHxW");
    expect_error(replace("input = 1x8x8", "input = 1x8192x8192"), NULL, 0, "x.cfg:10",
                 "67108864 values per sample, more than the 16777216 allowed");
    expect_error(replace("type = conv", "type = convolution"), NULL, 0, "x.cfg:12",
                 "unknown layer type");
    expect_error(replace("filters = 4", "units = 4"), NULL, 0, "x.cfg:13",
                 "unknown key 'units'");
    expect_error(replace("[a.c]", "[zz.c]"), NULL, 0, "x.cfg:11", "no branch [zz]");
    expect_error(replace("[fusion]\ntype = concat\n", ""), NULL, 0, "x.cfg:20", "after [fusion]");
    expect_error(replace("filters = 4\n", ""), NULL, 0, "x.cfg:11", "needs filters");
    expect_error(replace("seed = 3", "seed = 3\nseed = 4"), NULL, 0, "x.cfg:4", "given twice");
    expect_error(replace("[b]", "[a]"), NULL, 0, "x.cfg:16", "declared twice");
    expect_error(replace("[experiment]", "experiment]"), NULL, 0, "x.cfg:1", NULL);
    expect_error(replace("type = concat", "type = sum"), NULL, 0, "x.cfg:21", "concat");
    const char *bad_set[] = {"train.momentum=abc"};
    expect_error(base, bad_set, 1, "--set train.momentum", "not a number");
    const char *no_section[] = {"nosuch.key=1"};
    expect_error(base, no_section, 1, "no section [nosuch]", NULL);
    const char *no_dot[] = {"epochs=3"};
    expect_error(base, no_dot, 1, "section.key=value", NULL);
    const char *bad_key[] = {"train.epoch=3"};
    expect_error(base, bad_key, 1, "unknown key 'epoch'", NULL);
}
END_TEST


/* Many keys stay linear, and the first mistake in file order is the one
 * reported: the unknown key on line 2, not the key given twice at the end. */
START_TEST(many_keys_report_the_first_error)
{
    enum { KEYS = 80000 };
    size_t cap = (size_t)KEYS * 24 + 256;
    char *text = malloc(cap);
    ck_assert_ptr_nonnull(text);
    size_t n = (size_t)snprintf(text, cap, "[train]\nbogus = 1\n");
    for (int i = 0; i < KEYS; i++)
        n += (size_t)snprintf(text + n, cap - n, "k%d = %d\n", i, i);
    n += (size_t)snprintf(text + n, cap - n, "k7 = 8\n");
    ck_assert_uint_gt(n, 700000);
    tm_experiment e;
    ck_assert_int_eq(tm_experiment_parse(&e, text, "big.cfg", NULL, 0), TM_ERR_CONFIG);
    ck_assert_msg(strstr(tm_last_error(), "big.cfg:2: [train] unknown key 'bogus'"), "%s",
                  tm_last_error());
    /* without line 2, the key given twice on the last line */
    memcpy(strstr(text, "bogus = 1\n"), "#ogus = 1\n", 10);
    ck_assert_int_eq(tm_experiment_parse(&e, text, "big.cfg", NULL, 0), TM_ERR_CONFIG);
    ck_assert_msg(strstr(tm_last_error(), "big.cfg:3: [train] unknown key 'k0'"), "%s",
                  tm_last_error());
    free(text);
    /* a key given twice is reported at its second line, after earlier mistakes */
    expect_error(replace("seed = 3", "seed = 3\nbogus = 1\nseed = 4"), NULL, 0, "x.cfg:4",
                 "unknown key 'bogus'");
    expect_error(replace("seed = 3", "seed = 3\nseed = 4\nbogus = 1"), NULL, 0, "x.cfg:4",
                 "given twice (first at line 3)");
    /* a section declared twice is reported where the second one starts */
    expect_error(replace("[b]", "[a]"), NULL, 0, "x.cfg:16", "first at line 9");
}
END_TEST

START_TEST(inline_comments_are_stripped)
{
    tm_experiment e;
    char text[4096];
    snprintf(text, sizeof text, "%s",
             replace("name = t", "name = run#1   # the name\n"
                                 "  # an indented comment\n"
                                 "threads = 2 ; inih's own inline comment"));
    char *data = strstr(text, "[train]");
    ck_assert_ptr_nonnull(data);
    /* a path: the comment must not become part of the folder's name */
    memmove(data + 35, data, strlen(data) + 1);
    memcpy(data, "[data]\ncache = /tmp/c\t# the cache\n\n", 35);
    TM_CK(tm_experiment_parse(&e, text, "x.cfg", NULL, 0));
    ck_assert_str_eq(e.name, "run#1");
    ck_assert_int_eq(e.threads, 2);
    ck_assert_str_eq(e.data.cache, "/tmp/c");
    ck_assert_ptr_null(strstr(e.text, "the cache"));
    tm_experiment_free(&e);
    /* --set values are taken whole */
    const char *sets[] = {"experiment.name=a # b"};
    TM_CK(tm_experiment_parse(&e, base, "x.cfg", sets, 1));
    ck_assert_str_eq(e.name, "a # b");
    tm_experiment_free(&e);
}
END_TEST

START_TEST(bom_indentation_and_long_sections)
{
    tm_experiment e;
    char text[4096];
    /* a UTF-8 BOM before the first section */
    snprintf(text, sizeof text, "\xEF\xBB\xBF%s", base);
    TM_CK(tm_experiment_parse(&e, text, "x.cfg", NULL, 0));
    ck_assert_str_eq(e.name, "t");
    tm_experiment_free(&e);
    /* indented keys and sections mean the same as unindented ones */
    snprintf(text, sizeof text, "%s", replace("epochs = 2\nlr = 0.01\n\n[a]",
                                              "  epochs = 5\n\tlr = 0.01\n\n  [a]"));
    TM_CK(tm_experiment_parse(&e, text, "x.cfg", NULL, 0));
    ck_assert_int_eq(e.train.epochs, 5);
    ck_assert_int_eq(e.model.n_branches, 2);
    tm_experiment_free(&e);
    /* blanks inside the brackets too: [ train ] is [train], also for --set */
    const char *sets[] = {"train.epochs=6"};
    TM_CK(tm_experiment_parse(&e, replace("[train]", "[ train ]"), "x.cfg", sets, 1));
    ck_assert_int_eq(e.train.epochs, 6);
    ck_assert_ptr_nonnull(strstr(e.text, "[train]\nepochs = 6\n"));
    tm_experiment_free(&e);
    /* a section name longer than the parser keeps */
    char longsec[128];
    snprintf(longsec, sizeof longsec, "[a.%s]", "c234567890123456789012345678901234567890123456789");
    expect_error(replace("[a.c]", longsec), NULL, 0, "x.cfg:11",
                 "section name too long (max 49 characters)");
}
END_TEST

START_TEST(keys_without_effect_for_the_feature)
{
    /* b: log-mel features, 40 mels x 61 frames of 1 s at 8 kHz */
    const char *logmel = "[b]\ninput = 1x40x61\nfeature = logmel\n";
    tm_experiment e;
    TM_CK(tm_experiment_parse(&e, replace("[b]\ninput = 1x4x6\n", logmel), "x.cfg", NULL, 0));
    tm_experiment_free(&e);
    const char *coef[] = {"b.coefficients=13"};
    expect_error(replace("[b]\ninput = 1x4x6\n", logmel), coef, 1, "--set b.coefficients",
                 "no effect with feature = logmel");
    char text[4096];
    snprintf(text, sizeof text, "%s",
             replace("[b]\ninput = 1x4x6\n", "[b]\ninput = 1x40x61\ncoefficients = 13\n"
                                             "feature = logmel\n"));
    expect_error(text, NULL, 0, "x.cfg:18: [b] coefficients = 13",
                 "no effect with feature = logmel");
    const char *noise[] = {"b.aug_noise=0.1"};
    expect_error(replace("[b]\ninput = 1x4x6\n", logmel), noise, 1, "--set b.aug_noise",
                 "no effect with an audio feature");
    /* a: images; audio front-end keys do nothing there */
    const char *hop[] = {"a.feature=image", "a.hop=64"};
    expect_error(base, hop, 2, "--set a.hop", "no effect with feature = image");
}
END_TEST

/* The layer names and kinds of two specs are the same, in order. */
static void same_spec(const tm_model_spec *x, const tm_model_spec *y)
{
    ck_assert_int_eq(x->n_branches, y->n_branches);
    for (int b = 0; b < x->n_branches; b++) {
        ck_assert_str_eq(x->branches[b].name, y->branches[b].name);
        ck_assert_int_eq(x->branches[b].n_layers, y->branches[b].n_layers);
        for (int k = 0; k < 3; k++)
            ck_assert_int_eq(x->branches[b].input[k], y->branches[b].input[k]);
        for (int i = 0; i < x->branches[b].n_layers; i++) {
            ck_assert_str_eq(x->branches[b].layers[i].name, y->branches[b].layers[i].name);
            ck_assert_int_eq(x->branches[b].layers[i].kind, y->branches[b].layers[i].kind);
            ck_assert_int_eq(x->branches[b].layers[i].filters, y->branches[b].layers[i].filters);
        }
    }
    ck_assert_int_eq(x->n_head, y->n_head);
    for (int i = 0; i < x->n_head; i++)
        ck_assert_str_eq(x->head[i].name, y->head[i].name);
}

START_TEST(branch_key_keeps_one_branch)
{
    /* branch b reads modality "snd" from column "wav" */
    const char *text =
        replace("input = 1x4x6\n", "input = 1x4x6\nmodality = snd\ncolumn = wav\n");
    tm_experiment full, e;
    TM_CK(tm_experiment_parse(&full, text, "x.cfg", NULL, 0));
    ck_assert_str_eq(full.branch, "");
    const char *sets[] = {"experiment.branch=b"};
    TM_CK(tm_experiment_parse(&e, text, "x.cfg", sets, 1));
    ck_assert_str_eq(e.branch, "b");
    ck_assert_int_eq(e.model.n_branches, 1);
    ck_assert_str_eq(e.model.branches[0].name, "b");
    ck_assert_int_eq(e.model.branches[0].input[2], 6);
    ck_assert_int_eq(e.model.branches[0].n_layers, 1);
    ck_assert_int_eq(e.model.n_head, 1);
    /* the per-branch arrays follow the model: slot 0 is b's, the rest empty */
    ck_assert_str_eq(e.modality[0], "snd");
    ck_assert_str_eq(e.features[0].name, "snd");
    ck_assert_str_eq(e.features[0].column, "wav");
    ck_assert_str_eq(e.modality[1], "");
    ck_assert_str_eq(e.features[1].name, "");
    ck_assert_str_eq(e.features[1].column, "");
    /* the same spec as the model layer's single-branch reduction */
    tm_model_spec single;
    TM_CK(tm_model_spec_single_branch(&single, &full.model, "b"));
    same_spec(&e.model, &single);
    tm_model_spec_free(&single);
    /* the stored text says so and rebuilds the same experiment */
    ck_assert_ptr_nonnull(strstr(e.text, "branch = b\n"));
    tm_experiment again;
    TM_CK(tm_experiment_parse(&again, e.text, "model.h5", NULL, 0));
    ck_assert_str_eq(again.branch, "b");
    same_spec(&again.model, &e.model);
    ck_assert_str_eq(again.modality[0], "snd");
    tm_experiment_free(&again);
    tm_experiment_free(&e);
    /* written in the file, the first branch: a has two layers */
    TM_CK(tm_experiment_parse(&e, replace("seed = 3\n", "seed = 3\nbranch = a\n"), "x.cfg",
                              NULL, 0));
    ck_assert_int_eq(e.model.n_branches, 1);
    ck_assert_str_eq(e.model.branches[0].name, "a");
    ck_assert_int_eq(e.model.branches[0].n_layers, 2);
    ck_assert_str_eq(e.modality[0], "a");
    ck_assert_str_eq(e.modality[1], "");
    tm_experiment_free(&e);
    tm_experiment_free(&full);
}
END_TEST

START_TEST(single_branch_ablation_of_an_experiment)
{
    tm_experiment full, e;
    TM_CK(tm_experiment_parse(&full, base, "x.cfg", NULL, 0));
    TM_CK(tm_experiment_single_branch(&e, &full, "a"));
    ck_assert_str_eq(e.branch, "a");
    ck_assert_str_eq(e.name, "t");
    ck_assert_uint_eq(e.seed, 3);
    tm_model_spec single;
    TM_CK(tm_model_spec_single_branch(&single, &full.model, "a"));
    same_spec(&e.model, &single);
    tm_model_spec_free(&single);
    /* the same text as --set experiment.branch=a gives */
    const char *sets[] = {"experiment.branch=a"};
    tm_experiment viaset;
    TM_CK(tm_experiment_parse(&viaset, base, "x.cfg", sets, 1));
    ck_assert_str_eq(e.text, viaset.text);
    tm_experiment_free(&viaset);
    tm_experiment_free(&e);
    tm_experiment_free(&full);
    /* a file without [experiment] gains the section */
    const char *bare = strstr(base, "[train]");
    TM_CK(tm_experiment_parse(&full, bare, "y.cfg", NULL, 0));
    TM_CK(tm_experiment_single_branch(&e, &full, "b"));
    ck_assert_int_eq(e.model.n_branches, 1);
    ck_assert_str_eq(e.model.branches[0].name, "b");
    ck_assert_msg(!strncmp(e.text, "[experiment]\nbranch = b\n", 24), "%s", e.text);
    tm_experiment again;
    TM_CK(tm_experiment_parse(&again, e.text, "model.h5", NULL, 0));
    ck_assert_str_eq(again.model.branches[0].name, "b");
    ck_assert_int_eq(again.model.n_branches, 1);
    tm_experiment_free(&again);
    tm_experiment_free(&e);
    tm_experiment_free(&full);
}
END_TEST

/* A shipped manifest experiment: the kept branch's decoding and features
 * move to slot 0 unchanged. */
START_TEST(branch_key_keeps_the_feature_settings)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/experiments/avdigits/fused.cfg", tm_test_source_dir());
    tm_experiment full, e;
    TM_CK(tm_experiment_load(&full, path, NULL, 0));
    ck_assert_int_eq(full.model.n_branches, 2);
    ck_assert_str_eq(full.model.branches[1].name, "audio");
    TM_CK(tm_experiment_single_branch(&e, &full, "audio"));
    ck_assert_int_eq(e.model.n_branches, 1);
    ck_assert_str_eq(e.modality[0], full.modality[1]);
    ck_assert_int_eq(e.features[0].kind, full.features[1].kind);
    ck_assert_int_ne(e.features[0].kind, TM_FEATURE_NONE);
    const tm_feature_spec *f = &e.features[0], *g = &full.features[1];
    ck_assert_str_eq(f->name, g->name);
    ck_assert_str_eq(f->column, g->column);
    ck_assert_int_eq(f->fe.sample_rate, g->fe.sample_rate);
    ck_assert_int_eq(f->fe.num_samples, g->fe.num_samples);
    ck_assert_int_eq(f->fe.n_mfcc, g->fe.n_mfcc);
    ck_assert_int_eq(f->fe.hop_length, g->fe.hop_length);
    ck_assert_float_eq(f->duration, g->duration);
    ck_assert_int_eq(f->standardize, g->standardize);
    ck_assert_float_eq(f->aug_shift, g->aug_shift);
    ck_assert_int_eq(e.features[1].kind, TM_FEATURE_NONE);
    for (int k = 0; k < 3; k++)
        ck_assert_int_eq(e.model.branches[0].input[k], full.model.branches[1].input[k]);
    tm_experiment_free(&e);
    tm_experiment_free(&full);
}
END_TEST

START_TEST(unknown_branch_is_an_error_naming_file_line_and_branch)
{
    expect_error(replace("seed = 3\n", "seed = 3\nbranch = video\n"), NULL, 0, "x.cfg:4",
                 "no branch [video]");
    expect_error(replace("seed = 3\n", "seed = 3\nbranch = video\n"), NULL, 0,
                 "branch = video", "branches are: a, b");
    const char *sets[] = {"experiment.branch=zz"};
    expect_error(base, sets, 1, "--set experiment.branch", "no branch [zz]");
    tm_experiment full, e;
    TM_CK(tm_experiment_parse(&full, base, "x.cfg", NULL, 0));
    ck_assert_int_eq(tm_experiment_single_branch(&e, &full, "c"), TM_ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(tm_last_error(), "no branch [c]"));
    tm_experiment_free(&full);
}
END_TEST

START_TEST(impossible_shapes_name_file_line_and_layer)
{
    tm_experiment e;
    /* a 9x9 valid conv on the 4x6 input of branch b */
    TM_CK(tm_experiment_parse(&e, replace("[b.f]\ntype = flatten\n",
                                          "[b.k]\ntype = conv\nfilters = 2\nsize = 9\n"
                                          "padding = valid\n[b.f]\ntype = flatten\n"),
                              "x.cfg", NULL, 0));
    tm_experiment_set_classes(&e, 3);
    tm_rng r;
    tm_rng_seed(&r, 0);
    tm_model *m = NULL;
    ck_assert_int_eq(tm_model_build(&m, &e.model, &r), TM_ERR_SHAPE);
    ck_assert_msg(strstr(tm_last_error(), "x.cfg:18: [b.k]") &&
                      strstr(tm_last_error(), "kernel is larger"),
                  "%s", tm_last_error());
    tm_experiment_free(&e);
    /* a branch that does not end in a vector */
    TM_CK(tm_experiment_parse(&e, replace("[b.f]\ntype = flatten\n", ""), "x.cfg", NULL, 0));
    tm_experiment_set_classes(&e, 3);
    ck_assert_int_eq(tm_model_build(&m, &e.model, &r), TM_ERR_SHAPE);
    ck_assert_msg(strstr(tm_last_error(), "x.cfg:16: [b]"), "%s", tm_last_error());
    tm_experiment_free(&e);
}
END_TEST

/* size = HxW: H rows by W columns for convolutions; pools stay square. */
START_TEST(non_square_kernels)
{
    tm_experiment e;
    TM_CK(tm_experiment_parse(&e, replace("filters = 4", "filters = 4\nsize = 2x5\nstride = 2"),
                              "x.cfg", NULL, 0));
    const tm_layer_spec *c = &e.model.branches[0].layers[0];
    ck_assert_int_eq(c->size, 2);
    ck_assert_int_eq(tm_layer_kernel_w(c), 5);
    tm_experiment_set_classes(&e, 3);
    tm_rng r;
    tm_rng_seed(&r, 0);
    tm_model *m = NULL;
    TM_CK(tm_model_build(&m, &e.model, &r));
    /* 1x8x8, same padding, stride 2: 4x4 out; weights 4x1x2x5 */
    ck_assert_int_eq(m->branch_layers[0][0].out_shape[1], 4);
    ck_assert_int_eq(m->branch_layers[0][0].out_shape[2], 4);
    ck_assert_int_eq(m->branch_layers[0][0].w->shape[2], 2);
    ck_assert_int_eq(m->branch_layers[0][0].w->shape[3], 5);
    ck_assert_int_eq(m->branch_layers[0][0].macs, 4L * 4 * 4 * 10);
    tm_model_free(m);
    tm_experiment_free(&e);
    TM_CK(tm_experiment_parse(&e, replace("filters = 4", "filters = 4\nsize = 3x3"), "x.cfg",
                              NULL, 0));
    ck_assert_int_eq(e.model.branches[0].layers[0].size, 3);
    ck_assert_int_eq(e.model.branches[0].layers[0].size_w, 0);
    tm_experiment_free(&e);
    const char *bad[] = {"0x3", "3x", "x3", "3x65", "-3x3", "3x-1", "3x+1", "3 x 3", "3x3x3"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char to[64];
        snprintf(to, sizeof to, "filters = 4\nsize = %s", bad[i]);
        expect_error(replace("filters = 4", to), NULL, 0, "x.cfg:14", "not a size");
    }
    TM_CK(tm_experiment_parse(&e, replace("[a.f]", "[a.p]\ntype = maxpool\nsize = 2x1\n[a.f]"),
                              "x.cfg", NULL, 0));
    tm_experiment_set_classes(&e, 3);
    ck_assert_int_ne(tm_model_build(&m, &e.model, &r), TM_OK);
    ck_assert_msg(strstr(tm_last_error(), "[a.p]") && strstr(tm_last_error(), "square"), "%s",
                  tm_last_error());
    tm_experiment_free(&e);
}
END_TEST

START_TEST(missing_file_is_named)
{
    tm_experiment e;
    ck_assert_int_eq(tm_experiment_load(&e, "/nonexistent/x.cfg", NULL, 0), TM_ERR_IO);
    ck_assert_ptr_nonnull(strstr(tm_last_error(), "/nonexistent/x.cfg"));
}
END_TEST

/* Every .cfg the project ships parses and builds into a model. */
START_TEST(shipped_experiment_files_parse)
{
    const char *dirs[] = {"experiments", "experiments/avdigits", "experiments/avdigits-noisy",
                          "experiments/coswara", "experiments/kws"};
    int seen = 0;
    for (size_t d = 0; d < sizeof dirs / sizeof *dirs; d++) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/%s", tm_test_source_dir(), dirs[d]);
        DIR *dh = opendir(dir);
        ck_assert_msg(dh != NULL, "cannot open %s", dir);
        struct dirent *ent;
        while ((ent = readdir(dh))) {
            size_t n = strlen(ent->d_name);
            if (n < 5 || strcmp(ent->d_name + n - 4, ".cfg"))
                continue;
            char path[8192];
            snprintf(path, sizeof path, "%s/%s", dir, ent->d_name);
            tm_experiment e;
            TM_CK(tm_experiment_load(&e, path, NULL, 0));
            tm_experiment_set_classes(&e, e.data.source == TM_DATA_SYNTHETIC ? e.data.classes : 10);
            tm_rng r;
            tm_rng_seed(&r, 0);
            tm_model *m = NULL;
            tm_status s = tm_model_build(&m, &e.model, &r);
            ck_assert_msg(s == TM_OK, "%s: %s", path, tm_last_error());
            tm_model_free(m);
            tm_experiment_free(&e);
            seen++;
        }
        closedir(dh);
    }
    ck_assert_int_ge(seen, 14);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("experiment");
    TCase *tc = tcase_create("experiment");
    tcase_add_test(tc, parses_a_two_branch_experiment);
    tcase_add_test(tc, oversized_layer_names_its_line);
    tcase_add_test(tc, set_overrides_and_adds_keys);
    tcase_add_test(tc, errors_name_file_line_and_reason);
    tcase_add_test(tc, many_keys_report_the_first_error);
    tcase_add_test(tc, inline_comments_are_stripped);
    tcase_add_test(tc, bom_indentation_and_long_sections);
    tcase_add_test(tc, keys_without_effect_for_the_feature);
    tcase_add_test(tc, branch_key_keeps_one_branch);
    tcase_add_test(tc, single_branch_ablation_of_an_experiment);
    tcase_add_test(tc, branch_key_keeps_the_feature_settings);
    tcase_add_test(tc, unknown_branch_is_an_error_naming_file_line_and_branch);
    tcase_add_test(tc, impossible_shapes_name_file_line_and_layer);
    tcase_add_test(tc, missing_file_is_named);
    tcase_add_test(tc, non_square_kernels);
    tcase_add_test(tc, shipped_experiment_files_parse);
    suite_add_tcase(s, tc);
    return tm_test_run(s);
}
