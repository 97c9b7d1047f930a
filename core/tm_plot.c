#include "tm_plot.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tm_fs.h"

enum { TM_PATH_LEN = 4096 };

/* snprintf into the rest of a buffer: what it wrote, or what it wanted
 * (the caller compares the total with the capacity), never past cap. */
static size_t tm_plot_put(char *buf, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = cap ? vsnprintf(buf, cap, fmt, ap) : 0;
    va_end(ap);
    return k > 0 ? (size_t)k : 0;
}

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
    TM_TRY(tm_atomic_write(path, buf, (size_t)n));
    return tm_plot_run(dir, "training.gp", skipped);
}

tm_status tm_plot_confusion(const char *png, const char *title, const char *const *classes,
                            const int *conf, int k, int *skipped)
{
    char stem[TM_PATH_LEN], dir[TM_PATH_LEN], gp[TM_PATH_LEN + 8], dat[TM_PATH_LEN + 8];
    snprintf(stem, sizeof stem, "%s", png);
    size_t L = strlen(stem);
    if (L > 4 && !strcmp(stem + L - 4, ".png"))
        stem[L - 4] = '\0';
    snprintf(gp, sizeof gp, "%s.gp", stem);
    snprintf(dat, sizeof dat, "%s.dat", stem);
    snprintf(dir, sizeof dir, "%s", stem);
    char *slash = strrchr(dir, '/');
    const char *base_png = slash ? png + (slash - dir) + 1 : png;
    const char *base_dat = slash ? dat + (slash - dir) + 1 : dat;
    if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    /* the matrix: "true predicted count share" per cell */
    size_t cap = 256 + (size_t)k * (size_t)k * 48;
    char *buf = malloc(cap);
    if (!buf)
        return tm_error(TM_ERR_NOMEM, "%s: out of memory", dat);
    size_t n = 0;
    for (int t = 0; t < k; t++) {
        long row = 0;
        for (int p = 0; p < k; p++)
            row += conf[t * k + p];
        for (int p = 0; p < k; p++)
            n += tm_plot_put(buf + (n < cap ? n : cap), n < cap ? cap - n : 0, "%d %d %d %.4f\n", t, p, conf[t * k + p],
                                  row ? (double)conf[t * k + p] / (double)row : 0.0);
        n += tm_plot_put(buf + (n < cap ? n : cap), n < cap ? cap - n : 0, "\n");
    }
    tm_status s = n < cap ? tm_atomic_write(dat, buf, n)
                          : tm_error(TM_ERR_INTERNAL, "%s: matrix data too long", dat);
    free(buf);
    TM_TRY(s);
    cap = 2048 + (size_t)k * 300;
    buf = malloc(cap);
    if (!buf)
        return tm_error(TM_ERR_NOMEM, "%s: out of memory", gp);
    char t[512], q[256], qp[TM_PATH_LEN + 8], qd[TM_PATH_LEN + 8];
    tm_plot_quote(title, t, sizeof t);
    tm_plot_quote(base_png, qp, sizeof qp);
    tm_plot_quote(base_dat, qd, sizeof qd);
    int side = 260 + 48 * k;
    n = (size_t)snprintf(buf, cap,
                         "# `gnuplot %s` in this folder redraws the picture\n"
                         "set terminal pngcairo size %d,%d font 'sans,10' noenhanced\n"
                         "set output %s\n"
                         "set title %s.' - confusion matrix (rows: true class, counts)'\n"
                         "set xlabel 'predicted class'\nset ylabel 'true class'\n"
                         "set xrange [-0.5:%d.5]\nset yrange [%d.5:-0.5]\n"
                         "set cbrange [0:1]\nset cblabel 'share of the true class'\n"
                         "set palette defined (0 'white', 1 '#2166ac')\n"
                         "set size ratio -1\nunset key\n",
                         strrchr(gp, '/') ? strrchr(gp, '/') + 1 : gp, side + 120, side, qp, t,
                         k - 1, k - 1);
    n += tm_plot_put(buf + (n < cap ? n : cap), n < cap ? cap - n : 0, "set xtics (");
    for (int c = 0; c < k; c++) {
        tm_plot_quote(classes[c], q, sizeof q);
        n += tm_plot_put(buf + (n < cap ? n : cap), n < cap ? cap - n : 0, "%s%s %d", c ? ", " : "", q, c);
    }
    n += tm_plot_put(buf + (n < cap ? n : cap), n < cap ? cap - n : 0, ") rotate by -45\nset ytics (");
    for (int c = 0; c < k; c++) {
        tm_plot_quote(classes[c], q, sizeof q);
        n += tm_plot_put(buf + (n < cap ? n : cap), n < cap ? cap - n : 0, "%s%s %d", c ? ", " : "", q, c);
    }
    n += (size_t)snprintf(
        buf + n, cap - n,
        ")\nplot %s using 2:1:4 with image, \\\n"
        "     '' using 2:1:(sprintf('%%d', $3)):($4 > 0.5 ? 0xffffff : 0x000000) "
        "with labels tc rgb variable\n",
        qd);
    if (n >= cap) {
        free(buf);
        return tm_error(TM_ERR_INTERNAL, "%s: plot script too long", gp);
    }
    s = tm_atomic_write(gp, buf, n);
    free(buf);
    TM_TRY(s);
    return tm_plot_run(dir, strrchr(gp, '/') ? strrchr(gp, '/') + 1 : gp, skipped);
}
