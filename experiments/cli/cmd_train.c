#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tm_cli.h"
#include "tm_log.h"
#include "tm_ranks.h"
#include "tm_run.h"
#include "tm_run_folder.h"

#define MAX_SETS 256

static void help(FILE *f)
{
    fprintf(f,
            "usage: tinym2net train EXPERIMENT.cfg [options]\n\n"
            "Trains the experiment's model, validates each epoch, tests at the end and\n"
            "writes the run folder: metrics.json, log.csv, checkpoint.h5, model.h5.\n\n"
            "options:\n"
            "  --out DIR           run folder (default: runs/<experiment name>)\n"
            "  --set SEC.KEY=VAL   override a key of the experiment file (repeatable)\n"
            "  --threads N         worker threads (same as --set experiment.threads=N)\n"
            "  --ablations         also train each branch alone; metrics.json gains\n"
            "                      \"ablations\": {\"<branch>\": <test accuracy>}\n"
            "  --resume            continue the run in DIR from its last checkpoint\n"
            "  --force             start over in a DIR that already holds a run\n"
            "  --stop-after N      stop after epoch N as if killed (for testing resume)\n"
            "  --distributed       data-parallel: each batch in [train] shards shards (6),\n"
            "                      run over the ranks of mpirun / srun, or in turn alone;\n"
            "                      the same weights for any number of ranks at one\n"
            "                      thread count; rank 0 writes the run (docs/scale-out.md)\n"
            "  --quiet             no progress output\n"
            "  --help              this text\n");
}

static int train(int argc, char **argv, tm_ranks *ranks);

int tm_cmd_train(int argc, char **argv)
{
    tm_ranks ranks = {0, 1, 0};
    int rc = train(argc, argv, &ranks);
    return ranks.mpi ? tm_ranks_exit(&ranks, rc) : rc;
}

static int train(int argc, char **argv, tm_ranks *ranks)
{
    const char *cfg = NULL, *out = NULL;
    const char *sets[MAX_SETS];
    tm_cli_list set_list = {sets, 0, MAX_SETS};
    int quiet = 0;
    char threads_set[64];
    tm_run_options o;
    memset(&o, 0, sizeof o);
    const tm_cli_option opts[] = {
        TM_CLI_STRING("--out", "-o", &out),
        TM_CLI_LIST("--set", &set_list),
        TM_CLI_LIST_PREFIX("--threads", &set_list, "experiment.threads=", threads_set),
        TM_CLI_INT("--stop-after", &o.train.stop_after_epoch, 1, 1000000),
        TM_CLI_FLAG("--ablations", NULL, &o.ablations),
        TM_CLI_FLAG("--resume", NULL, &o.train.resume),
        TM_CLI_FLAG("--force", NULL, &o.train.force),
        TM_CLI_FLAG("--distributed", NULL, &o.train.distributed),
        TM_CLI_FLAG("--quiet", "-q", &quiet),
        {0},
    };
    int rc = tm_cli_parse("train", help, opts, argc, argv, &cfg, 1);
    if (rc)
        return rc == TM_CLI_HELP ? 0 : rc;
    if (o.train.distributed) {
        if (tm_ranks_launched() && !tm_ranks_have_mpi()) {
            fprintf(stderr, "tinym2net train: error: --distributed under a launcher, but this "
                            "build has no MPI (TM_WITH_MPI=OFF; docs/scale-out.md)\n");
            return 1;
        }
        if (tm_ranks_init(ranks, &argc, &argv) != TM_OK)
            return tm_cli_fail("train");
        o.train.ranks = ranks;
        quiet |= ranks->rank != 0;
    }
    tm_experiment e;
    if (tm_experiment_load(&e, cfg, sets, set_list.n) != TM_OK)
        return tm_cli_fail("train");
    char outbuf[TM_PATH_LEN];
    if (!out) {
        snprintf(outbuf, sizeof outbuf, "runs/%s", e.name);
        out = outbuf;
    }
    o.train.out_dir = out;
    o.train.progress = quiet ? NULL : stderr;
    /* before the data is loaded (tm_train checks again) */
    if (!o.train.resume &&
        tm_cli_check_out("train", out, "checkpoint.h5", "a training run (use --resume to continue "
                                                         "it)",
                         o.train.force)) {
        tm_experiment_free(&e);
        return 1;
    }
    /* A resumed run continues the experiment stored with it, exactly. */
    char ckpt[TM_PATH_LEN + 16];
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.h5", out);
    struct stat st;
    if (o.train.resume && stat(ckpt, &st) == 0) {
        char *stored = NULL;
        if (tm_read_experiment_text(ckpt, &stored) != TM_OK) {
            tm_experiment_free(&e);
            return tm_cli_fail("train");
        }
        if (strcmp(stored, e.text) != 0) {
            tm_experiment stored_e;
            tm_status s = tm_experiment_parse(&stored_e, stored, ckpt, NULL, 0);
            if (s != TM_OK) {
                free(stored);
                tm_experiment_free(&e);
                return tm_cli_fail("train");
            }
            /* An ablation folder stores its branch: the fused file is no change. */
            int same = 0;
            tm_experiment one;
            if (stored_e.branch[0] && !e.branch[0] &&
                tm_experiment_single_branch(&one, &e, stored_e.branch) == TM_OK) {
                same = !strcmp(one.text, stored);
                tm_experiment_free(&one);
            }
            if (!same)
                tm_warn("%s differs from the experiment stored in %s; resuming with the stored "
                        "one",
                        cfg, ckpt);
            snprintf(stored_e.name, sizeof stored_e.name, "%s", e.name);
            tm_experiment_free(&e);
            e = stored_e;
        }
        free(stored);
    }
    tm_status s = tm_run_experiment(&e, &o);
    tm_experiment_free(&e);
    if (s != TM_OK)
        return tm_cli_fail("train");
    return 0;
}
