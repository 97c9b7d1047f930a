#define _POSIX_C_SOURCE 200809L
#include "tm_progress.h"

#include <time.h>
#include <unistd.h>

double tm_now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void tm_progress_begin(tm_progress *p, FILE *out, int epoch, int epochs, int total_batches)
{
    p->out = out;
    p->is_tty = out && isatty(fileno(out));
    p->epoch = epoch;
    p->epochs = epochs;
    p->total_batches = total_batches;
    p->t_start = tm_now_seconds();
    p->t_last_print = p->t_start;
    p->samples = 0;
}

static void draw(tm_progress *p, int batch, double loss, double acc, int final)
{
    double el = tm_now_seconds() - p->t_start;
    double sps = el > 0 ? (double)p->samples / el : 0.0;
    double frac = p->total_batches ? (double)batch / p->total_batches : 1.0;
    double eta = frac > 0 ? el * (1.0 - frac) / frac : 0.0;
    if (p->is_tty) {
        int width = 24, fill = (int)(frac * width + 0.5);
        char bar[32];
        for (int i = 0; i < width; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[width] = '\0';
        fprintf(p->out, "\r\033[Kepoch %d/%d [%s] %d/%d loss %.4f acc %.3f %.0f samples/s ETA %.0fs",
                p->epoch, p->epochs, bar, batch, p->total_batches, loss, acc, sps, eta);
        if (final)
            fputc('\n', p->out);
    } else {
        fprintf(p->out, "epoch %d/%d batch %d/%d loss %.4f acc %.3f %.0f samples/s ETA %.0fs\n",
                p->epoch, p->epochs, batch, p->total_batches, loss, acc, sps, eta);
    }
    fflush(p->out);
}

void tm_progress_update(tm_progress *p, int batch, long samples, double loss, double acc)
{
    if (!p->out)
        return;
    p->samples = samples;
    double now = tm_now_seconds();
    /* Terminals redraw often; logs get a line every 10 s and at the end. */
    double every = p->is_tty ? 0.1 : 10.0;
    int last = batch == p->total_batches;
    if (last || now - p->t_last_print >= every) {
        p->t_last_print = now;
        draw(p, batch, loss, acc, last);
    }
}

