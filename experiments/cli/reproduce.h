/* tinym2net reproduce, shared between its three files: the orchestration
 * (cmd_reproduce.c: the jobs, their commands, reading their outputs), the
 * results page (reproduce_page.c) and its plots (reproduce_plots.c). */
#ifndef TM_REPRODUCE_H
#define TM_REPRODUCE_H

#include <stddef.h>
#include <stdio.h>

#include "tm_ranks.h"

#define RP_MAX_SEEDS 16
#define RP_MAX_DATA 8
#define RP_MAX_CLASSES 64
#define RP_PATH 1024
#define RP_CMD 8192

/* Model slots: the two single-modality base models (<modality>-base.cfg),
 * fused, fused compressed, and the compressed model with searched bits. */
enum { M_SINGLE0, M_SINGLE1, M_FUSED, M_COMP, M_SEARCH, M_N };

typedef struct {
    double v[RP_MAX_SEEDS];
    int n;
} series;

typedef struct {
    int ran;                               /* at least one seed finished */
    series fl, sim, rt, a64;               /* accuracies, 0..1 */
    long params, macs, file_bytes, arena, weight_bytes;
    double latency_ms;
    int conf[RP_MAX_CLASSES * RP_MAX_CLASSES], k; /* best seed's float confusion */
    double best;
    char note[256];
} model_res;

typedef struct {
    char name[64];
    char cfgdir[RP_PATH];
    char root[RP_PATH];           /* [data] root for its experiments, "" = theirs */
    char modality[2][48];         /* the single-modality models' names */
    char cfg[M_N][64], dir[M_N][64], label[M_N][128];
    model_res m[M_N];
    long budget;
    double wall;                  /* seconds this data set took, import included */
    char note[512];
} data_res;

typedef struct {
    const char *datasets, *seeds, *out, *results, *configs, *coswara, *threads, *qat_epochs;
    int epochs, quick, a64_ok;
    long budget;
    char self[RP_PATH], runner[RP_PATH], src[RP_PATH], a64_note[256];
    int seed[RP_MAX_SEEDS], n_seeds;
    FILE *log;
    tm_ranks ranks;
    char memo[RP_PATH]; /* over several ranks: markers of the commands done */
} opts;

/* A line to the log and standard error. */
void logf_(opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Runs a shell command (output to out, or the log), logged; its exit status. */
int sh(opts *o, const char *out, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* mkdir -p; 0 or -1. */
int mkdirs(const char *dir);
void dirname_of(const char *path, char *out, size_t n);
double mean_of(const series *s);
/* "99.4 % (99.3-99.7)", or "n/a". */
void fmt_series(const series *s, char *buf, size_t n);

/* The results page at o->results, its plots beside it. */
void rp_write_results(opts *o, data_res *ds, int nd, const char *cmdline, const char *date,
                      double wall, int fatal);
/* The accuracy-against-bytes plot and one confusion matrix per data set, as
 * DIR/STEM-*.png; what went wrong goes into notes. */
void rp_write_plots(opts *o, data_res *ds, int nd, const char *dir, const char *stem,
                    char *notes, size_t nn);

#endif
