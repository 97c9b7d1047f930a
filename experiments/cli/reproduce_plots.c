/* tinym2net reproduce: the results page's plots through gnuplot. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reproduce.h"

void rp_write_plots(opts *o, data_res *ds, int nd, const char *dir, const char *stem,
                        char *notes, size_t nn)
{
    char dat[RP_PATH * 2], gp[RP_PATH * 2];
    snprintf(dat, sizeof dat, "%s/plots/accuracy-vs-bytes.dat", o->out);
    snprintf(gp, sizeof gp, "%s/plots/plots.gp", o->out);
    char pdir[RP_PATH + 16];
    snprintf(pdir, sizeof pdir, "%s/plots", o->out);
    mkdirs(pdir);
    FILE *f = fopen(dat, "w"), *g = fopen(gp, "w");
    if (!f || !g) {
        if (f)
            fclose(f);
        if (g)
            fclose(g);
        snprintf(notes, nn, "plots: cannot write %.900s\n", dat);
        return;
    }
    for (int i = 0; i < nd; i++) {
        fprintf(f, "# %s\n", ds[i].name);
        for (int m = 0; m < M_N; m++)
            if (ds[i].m[m].ran && ds[i].m[m].rt.n)
                fprintf(f, "%ld %.4f \"%s\"\n", ds[i].m[m].file_bytes,
                        100 * mean_of(&ds[i].m[m].rt), ds[i].dir[m]);
        fprintf(f, "\n\n");
    }
    fclose(f);
    /* labels slanted to the upper right of their points, and room for them:
     * neighbours of one data set sit close in bytes and accuracy */
    long lo = 0, hi = 0;
    for (int i = 0; i < nd; i++)
        for (int m = 0; m < M_N; m++)
            if (ds[i].m[m].ran && ds[i].m[m].rt.n) {
                long b = ds[i].m[m].file_bytes;
                lo = !lo || b < lo ? b : lo;
                hi = b > hi ? b : hi;
            }
    fprintf(g, "set terminal pngcairo size 1000,650 noenhanced\n"
               "set output '%s/%s-accuracy-vs-bytes.png'\n"
               "set title 'Test accuracy (runtime, mean over seeds) against model file bytes'\n"
               "set xlabel 'model file bytes (log scale)'\nset ylabel 'accuracy (%%)'\n"
               "set logscale x\nset grid\nset key below\nset yrange [*:104]\n",
            dir, stem);
    if (lo > 0) {
        fprintf(g, "set xrange [%ld:%ld]\n", (long)(lo * 0.8), (long)(hi * 1.6));
        /* 1, 2, 3, 5 and 7 of every decade in range, as "30k" */
        static const int steps[5] = {1, 2, 3, 5, 7};
        char tics[1024] = "";
        size_t tn = 0;
        for (double dec = 1000; dec <= hi * 10.0 && tn + 64 < sizeof tics; dec *= 10)
            for (int k = 0; k < 5 && tn + 64 < sizeof tics; k++) {
                double v = steps[k] * dec;
                if (v >= lo * 0.8 && v <= hi * 1.6)
                    tn += (size_t)snprintf(tics + tn, sizeof tics - tn, "%s'%gk' %.0f",
                                           tn ? ", " : "", v / 1000, v);
            }
        if (tn)
            fprintf(g, "set xtics (%s)\n", tics);
    }
    fprintf(g, "plot ");
    for (int i = 0; i < nd; i++)
        fprintf(g,
                "%s'%s' index %d using 1:2 with points pt 7 ps 1.5 title '%s', "
                "'' index %d using 1:2:3 with labels left rotate by 20 offset 0.7,0.5 "
                "font ',8' notitle",
                i ? ", " : "", dat, i, ds[i].name, i);
    fprintf(g, "\n");
    /* One confusion heatmap per data set: its best fused float model. */
    for (int i = 0; i < nd; i++) {
        int best = -1;
        for (int m = M_FUSED; m <= M_COMP; m++)
            if (ds[i].m[m].k && (best < 0 || ds[i].m[m].best > ds[i].m[best].best))
                best = m;
        if (best < 0)
            continue;
        const model_res *r = &ds[i].m[best];
        char cm[RP_PATH * 2];
        snprintf(cm, sizeof cm, "%s/plots/confusion-%s.dat", o->out, ds[i].name);
        FILE *c = fopen(cm, "w");
        if (!c)
            continue;
        for (int a = 0; a < r->k; a++)
            for (int b = 0; b < r->k; b++)
                fprintf(c, "%d %d %d\n", b, a, r->conf[a * r->k + b]);
        fclose(c);
        fprintf(g,
                "reset\nset terminal pngcairo size 700,600 noenhanced\n"
                "set output '%s/%s-confusion-%s.png'\n"
                "set title '%s: confusion of the best fused model (%s, float, %.1f %%)'\n"
                "set xlabel 'predicted class'\nset ylabel 'true class'\n"
                "set xrange [-0.5:%d.5]\nset yrange [%d.5:-0.5]\n"
                "set xtics 1\nset ytics 1\nset palette defined (0 'white', 1 '#1f4e99')\n"
                "plot '%s' using 1:2:3 with image notitle, "
                "'' using 1:2:(sprintf('%%d',$3)) with labels font ',9' notitle\n",
                dir, stem, ds[i].name, ds[i].name, ds[i].dir[best], 100 * r->best, r->k - 1,
                r->k - 1, cm);
    }
    fclose(g);
    if (sh(o, NULL, "gnuplot '%s'", gp) != 0)
        snprintf(notes, nn, "The plots were not drawn: gnuplot failed or is not installed "
                            "(Debian: gnuplot-nox); the data is in %s/plots.\n\n",
                 o->out);
}
