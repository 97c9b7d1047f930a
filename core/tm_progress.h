/* Training progress: a redrawn status line on a terminal, plain periodic
 * lines otherwise (logs, CI). */
#ifndef TM_PROGRESS_H
#define TM_PROGRESS_H

#include <stdio.h>

typedef struct tm_progress {
    FILE *out;
    int is_tty;
    int epoch, epochs;
    int total_batches;
    double t_start;      /* seconds, monotonic */
    double t_last_print;
    long samples;
} tm_progress;

double tm_now_seconds(void);
void tm_progress_begin(tm_progress *p, FILE *out, int epoch, int epochs, int total_batches);
/* Called after each batch with running loss and accuracy of the epoch. */
void tm_progress_update(tm_progress *p, int batch, long samples, double loss, double acc);

#endif
