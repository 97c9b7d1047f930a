/* libFuzzer target: the CSV manifest reader (tm_manifest_load) on arbitrary
 * bytes. What loads is walked cell by cell, so ASan sees any pointer into
 * the text that is out of bounds or not NUL-terminated. */
#include <stdint.h>
#include <string.h>

#include "fuzz_tmpfile.h"
#include "tm_manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write_tmp(".csv", data, size);
    tm_manifest m;
    if (tm_manifest_load(&m, path) != TM_OK)
        return 0;
    volatile size_t total = 0;
    for (int c = 0; c < m.n_cols; c++)
        total += strlen(m.col[c]);
    for (int r = 0; r < m.n_rows; r++)
        for (int c = 0; c < m.n_cols; c++)
            total += strlen(tm_manifest_cell(&m, r, c));
    if (m.n_cols > 0) {
        int col = tm_manifest_column(&m, m.col[m.n_cols - 1]);
        tm_classes classes;
        if (col >= 0 && tm_manifest_classes(&m, col, &classes) == TM_OK) {
            int *labels = malloc(sizeof *labels * (m.n_rows ? m.n_rows : 1));
            if (labels && tm_manifest_labels(&m, col, &classes, labels) != TM_OK) {
                fprintf(stderr, "labels of the classes' own column do not map: %s\n",
                        tm_last_error());
                abort();
            }
            free(labels);
            tm_classes_free(&classes);
        }
        char buf[4096];
        if (m.n_rows > 0)
            (void)tm_manifest_path(&m, 0, 0, buf, sizeof buf);
    }
    tm_manifest_free(&m);
    return 0;
}
