/* libFuzzer target: the experiment-file parser (tm_experiment_parse) on
 * arbitrary text. A file that parses is rendered to e.text, which must parse
 * again: a stored experiment that does not reload is a bug, not bad input. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tm_experiment.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    tm_experiment e;
    if (tm_experiment_parse(&e, text, "fuzz.cfg", NULL, 0) == TM_OK) {
        tm_experiment again;
        if (tm_experiment_parse(&again, e.text, "fuzz.cfg", NULL, 0) != TM_OK) {
            fprintf(stderr, "rendered experiment does not parse again: %s\n", tm_last_error());
            abort();
        }
        tm_experiment_free(&again);
        tm_experiment_free(&e);
    }
    free(text);
    return 0;
}
