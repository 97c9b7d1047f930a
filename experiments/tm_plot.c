#include "tm_plot.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tm_qrun.h"

int tm_plot_available(void)
{
    static int known = -1;
    if (known < 0)
        known = system("command -v gnuplot >/dev/null 2>&1") == 0;
    return known;
}

void tm_plot_quote(const char *s, char *buf, size_t cap)
{
    size_t k = 0;
    if (cap < 3)
        return;
    buf[k++] = '\'';
    for (; *s && k + 3 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '\'') {
            buf[k++] = '\'';
            buf[k++] = '\'';
        } else {
            buf[k++] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
        }
    }
    buf[k++] = '\'';
    buf[k] = '\0';
}

/* dir as a shell single-quoted word */
static void shell_quote(const char *s, char *buf, size_t cap)
{
    size_t k = 0;
    buf[k++] = '\'';
    for (; *s && k + 6 < cap; s++) {
        if (*s == '\'') {
            memcpy(buf + k, "'\\''", 4);
            k += 4;
        } else {
            buf[k++] = *s;
        }
    }
    buf[k++] = '\'';
    buf[k] = '\0';
}

tm_status tm_plot_run(const char *dir, const char *script, int *skipped)
{
    *skipped = 0;
    if (!tm_plot_available()) {
        *skipped = 1;
        return TM_OK;
    }
    char qd[2 * TM_PATH_LEN + 8], qs[512], cmd[2 * TM_PATH_LEN + 600];
    shell_quote(dir, qd, sizeof qd);
    shell_quote(script, qs, sizeof qs);
    snprintf(cmd, sizeof cmd, "cd %s && gnuplot %s >/dev/null 2>&1", qd, qs);
    if (system(cmd) != 0)
        return tm_error(TM_ERR_IO, "%s/%s: gnuplot failed (the script and its data are written; "
                                   "run it there to see why)",
                        dir, script);
    return TM_OK;
}

tm_status tm_plot_training(const char *dir, const char *title, int *skipped)
{
    char t[512];
    tm_plot_quote(title, t, sizeof t);
    char buf[4096];
    int n = snprintf(
        buf, sizeof buf,
        "# tinym2net train: `gnuplot training.gp` in this folder writes training.png from "
        "log.csv\n"
        "set terminal pngcairo size 1000,420 font 'sans,10' noenhanced\n"
        "set output 'training.png'\n"
        "set datafile separator ','\n"
        "set key autotitle columnhead bottom right\n"
        "set grid\n"
        "set xlabel 'epoch'\n"
        "set xrange [0:*]\n"
        "set multiplot layout 1,2 title %s.' - training curves'\n"
        "set title 'cross-entropy loss'\n"
        "set ylabel 'loss'\n"
        "set yrange [0:*]\n"
        "set key top right\n"
        "plot 'log.csv' using 'epoch':'train_loss' with linespoints pt 7 lw 2 title 'train', \\\n"
        "     '' using 'epoch':'val_loss' with linespoints pt 5 lw 2 title 'validation'\n"
        "set title 'top-1 accuracy'\n"
        "set ylabel 'accuracy (%%)'\n"
        "set yrange [0:100]\n"
        "set key bottom right\n"
        "plot 'log.csv' using 'epoch':(100*column('train_accuracy')) with linespoints pt 7 "
        "lw 2 title 'train', \\\n"
        "     '' using 'epoch':(100*column('val_accuracy')) with linespoints pt 5 lw 2 "
        "title 'validation'\n"
        "unset multiplot\n",
        t);
    if (n < 0 || (size_t)n >= sizeof buf)
        return tm_error(TM_ERR_INTERNAL, "%s: training plot script too long", dir);
    char path[TM_PATH_LEN + 32];
    snprintf(path, sizeof path, "%s/training.gp", dir);
    TM_TRY(tm_write_file_atomic(path, buf, (size_t)n));
    return tm_plot_run(dir, "training.gp", skipped);
}
