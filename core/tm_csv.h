/* The one CSV writer of every CSV file the project writes: RFC 4180
 * fields (a field holding a comma, a quote, CR or LF, or starting or
 * ending with a space or tab is quoted, quotes doubled), LF line ends
 * (Python's csv module, pandas and spreadsheets read them). */
#ifndef TM_CSV_H
#define TM_CSV_H

#include <stdio.h>

typedef struct tm_csv {
    FILE *f;
    int fields;  /* fields written on the current row */
    int failed;  /* a write failed (sticky) */
} tm_csv;

void tm_csv_init(tm_csv *w, FILE *f);
/* One text field, quoted when RFC 4180 needs it. */
void tm_csv_str(tm_csv *w, const char *s);
void tm_csv_int(tm_csv *w, long long v);
/* One field formatted by printf (numbers: "%.6f", "%g", ...), quoted when needed. */
void tm_csv_fmt(tm_csv *w, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Ends the row. */
void tm_csv_end(tm_csv *w);
/* Nonzero when any write so far failed. */
int tm_csv_failed(const tm_csv *w);

#endif
