#include "tm_suggest.h"

#include <ctype.h>
#include <string.h>

enum { MAXW = 64 };

int tm_edit_distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    if (n >= MAXW || m >= MAXW)
        return MAXW;
    /* three rows of the Damerau (optimal string alignment) table */
    int r0[MAXW], r1[MAXW], r2[MAXW];
    int *pp = r0, *p = r1, *c = r2;
    for (size_t j = 0; j <= m; j++)
        p[j] = (int)j;
    for (size_t i = 1; i <= n; i++) {
        c[0] = (int)i;
        for (size_t j = 1; j <= m; j++) {
            int ai = tolower((unsigned char)a[i - 1]), bj = tolower((unsigned char)b[j - 1]);
            int v = p[j - 1] + (ai != bj);
            if (p[j] + 1 < v)
                v = p[j] + 1;
            if (c[j - 1] + 1 < v)
                v = c[j - 1] + 1;
            if (i > 1 && j > 1 && ai == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == bj && pp[j - 2] + 1 < v)
                v = pp[j - 2] + 1;
            c[j] = v;
        }
        int *t = pp;
        pp = p;
        p = c;
        c = t;
    }
    return p[m];
}

static int limit(const char *word)
{
    size_t n = strlen(word);
    return n >= 9 ? 3 : n >= 5 ? 2 : 1;
}

const char *tm_suggest(const char *word, const char *const *cands, int n)
{
    const char *best = NULL;
    int bd = limit(word) + 1;
    for (int i = 0; i < n; i++) {
        int d = tm_edit_distance(word, cands[i]);
        if (d == 0)
            return NULL;
        /* a word that starts another (--out for --output) is close too */
        size_t wl = strlen(word);
        if (wl >= 3 && !strncmp(cands[i], word, wl) && d > 1)
            d = 1;
        if (d < bd) {
            bd = d;
            best = cands[i];
        }
    }
    return best;
}

const char *tm_suggest_in_list(const char *word, const char *list, char *buf, size_t cap)
{
    const char *best = NULL;
    size_t best_len = 0;
    int bd = limit(word) + 1;
    for (const char *p = list; *p;) {
        while (*p == ',' || *p == ' ')
            p++;
        size_t len = strcspn(p, ", ");
        if (!len)
            break;
        char w[MAXW];
        if (len < sizeof w) {
            memcpy(w, p, len);
            w[len] = '\0';
            const char *one = w;
            if (tm_suggest(word, &one, 1) == one) {
                int d = tm_edit_distance(word, w);
                if (d < bd || !best) {
                    bd = d;
                    best = p;
                    best_len = len;
                }
            }
        }
        p += len;
    }
    if (!best || best_len >= cap)
        return NULL;
    memcpy(buf, best, best_len);
    buf[best_len] = '\0';
    return buf;
}
