/* "Did you mean": the candidate nearest a mistyped word, for messages about
 * unknown options, commands, experiment keys and layer types. */
#ifndef TM_SUGGEST_H
#define TM_SUGGEST_H

#include <stddef.h>

/* Edit distance (insertions, deletions, substitutions, adjacent swaps) of
 * two strings, case-insensitive; words over 63 bytes count as far apart. */
int tm_edit_distance(const char *a, const char *b);
/* The entry of cands[0..n-1] nearest word, or NULL when none is close
 * enough to be a likely typo (distance at most 1 for short words, 2 from 5
 * letters, 3 from 9) or word is one of them. */
const char *tm_suggest(const char *word, const char *const *cands, int n);
/* The same over a list separated by commas and spaces ("a, b, c"); the
 * suggestion is copied into buf (cap bytes). Returns buf, or NULL. */
const char *tm_suggest_in_list(const char *word, const char *list, char *buf, size_t cap);

#endif
