/*
 * table.c - aligned text tables (table.h).  Cells are UTF-8; widths count code points so a
 * description with accents still lines up.
 */
#include "table.h"

#include <stdlib.h>
#include <string.h>

struct hl_table {
  int ncols;
  size_t nrows; /* row 0 is the header */
  char **cells; /* nrows * ncols */
};

static size_t hl_utf8_width(const char *s) {
  size_t n = 0;

  for (; *s; s++)
    n += ((unsigned char)*s & 0xC0) != 0x80;
  return n;
}

hl_table_t *hl_table_new(int ncols, const char *const *headers) {
  hl_table_t *tbl = calloc(1, sizeof(*tbl));

  if (!tbl)
    return NULL;
  tbl->ncols = ncols;
  if (hl_table_add(tbl, headers) != 0)
    hl_table_destroy(&tbl);
  return tbl;
}

int hl_table_add(hl_table_t *tbl, const char *const *cells) {
  char **grown = realloc(tbl->cells, (tbl->nrows + 1) * (size_t)tbl->ncols * sizeof(*grown));

  if (!grown)
    return -1;
  tbl->cells = grown;
  for (int i = 0; i < tbl->ncols; i++) {
    const char *c = cells[i] && *cells[i] ? cells[i] : "-";

    grown[tbl->nrows * (size_t)tbl->ncols + (size_t)i] = strdup(c);
  }
  tbl->nrows++;
  return 0;
}

void hl_table_print(const hl_table_t *tbl, FILE *out) {
  size_t *width = calloc((size_t)tbl->ncols, sizeof(*width));

  if (!width)
    return;
  for (size_t r = 0; r < tbl->nrows; r++) {
    for (int i = 0; i < tbl->ncols; i++) {
      const char *c = tbl->cells[r * (size_t)tbl->ncols + (size_t)i];
      size_t w = c ? hl_utf8_width(c) : 0;

      width[i] = w > width[i] ? w : width[i];
    }
  }
  for (size_t r = 0; r < tbl->nrows; r++) {
    for (int i = 0; i < tbl->ncols; i++) {
      const char *c = tbl->cells[r * (size_t)tbl->ncols + (size_t)i];

      c = c ? c : "";
      if (i == tbl->ncols - 1)
        fprintf(out, "%s\n", c);
      else
        fprintf(out, "%s%*s", c, (int)(width[i] - hl_utf8_width(c) + 2), "");
    }
  }
  free(width);
}

void hl_table_destroy(hl_table_t **tblp) {
  hl_table_t *tbl = tblp ? *tblp : NULL;

  if (!tbl)
    return;
  for (size_t i = 0; i < tbl->nrows * (size_t)tbl->ncols; i++)
    free(tbl->cells[i]);
  free(tbl->cells);
  free(tbl);
  *tblp = NULL;
}
