/* Pictures through gnuplot (Debian gnuplot-nox, optional): each plot is a
 * gnuplot script written beside the data it reads, so a user can rerun and
 * restyle it (`gnuplot NAME.gp` in that folder), then run once to make the
 * PNG. Without gnuplot the script is still written and the PNG skipped. */
#ifndef TM_PLOT_H
#define TM_PLOT_H

#include <stddef.h>

#include "tm_status.h"

/* 1 when gnuplot is on PATH (checked once). */
int tm_plot_available(void);
/* s as a gnuplot single-quoted string ('' for '), control characters as
 * spaces, into buf (cap bytes, truncated to fit). */
void tm_plot_quote(const char *s, char *buf, size_t cap);
/* Runs `gnuplot script` in dir; *skipped = 1 (and TM_OK) without gnuplot. */
tm_status tm_plot_run(const char *dir, const char *script, int *skipped);
/* DIR/training.gp and DIR/training.png from DIR/log.csv: loss and accuracy
 * per epoch, training and validation. title names the run. */
tm_status tm_plot_training(const char *dir, const char *title, int *skipped);

/* PNG of a k x k confusion matrix (rows true, columns predicted; counts in
 * the cells, shaded by the row's share) at png; its script and data beside
 * it (png without ".png", plus ".gp" and ".dat"). */
tm_status tm_plot_confusion(const char *png, const char *title, const char *const *classes,
                            const int *conf, int k, int *skipped);

#endif
