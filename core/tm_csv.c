#include "tm_csv.h"

#include <stdarg.h>
#include <string.h>

void tm_csv_init(tm_csv *w, FILE *f)
{
    w->f = f;
    w->fields = 0;
    w->failed = f == NULL;
}

static int needs_quotes(const char *s)
{
    size_t n = strlen(s);
    if (n == 0)
        return 0;
    if (s[0] == ' ' || s[0] == '\t' || s[n - 1] == ' ' || s[n - 1] == '\t')
        return 1;
    return strpbrk(s, ",\"\r\n") != NULL;
}

void tm_csv_str(tm_csv *w, const char *s)
{
    if (w->failed)
        return;
    if (!s)
        s = "";
    FILE *f = w->f;
    int bad = w->fields++ > 0 && fputc(',', f) == EOF;
    if (!needs_quotes(s)) {
        bad |= fputs(s, f) < 0 && *s;
    } else {
        bad |= fputc('"', f) == EOF;
        for (; *s && !bad; s++)
            bad |= (*s == '"' && fputc('"', f) == EOF) || fputc(*s, f) == EOF;
        bad |= fputc('"', f) == EOF;
    }
    w->failed |= bad;
}

void tm_csv_int(tm_csv *w, long long v)
{
    tm_csv_fmt(w, "%lld", v);
}

void tm_csv_fmt(tm_csv *w, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof buf) {
        w->failed = 1;
        return;
    }
    tm_csv_str(w, buf);
}

void tm_csv_end(tm_csv *w)
{
    if (!w->failed && fputc('\n', w->f) == EOF)
        w->failed = 1;
    w->fields = 0;
}

int tm_csv_failed(const tm_csv *w)
{
    return w->failed || (w->f && ferror(w->f));
}
