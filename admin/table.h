/*
 * table.h - aligned text tables for the CLI's list commands (`endpoint list`, `attempts list`).
 */
#ifndef HL_TABLE_H
#define HL_TABLE_H

#include <stdio.h>

typedef struct hl_table hl_table_t;

/* ncols columns named by the header cells. */
hl_table_t *hl_table_new(int ncols, const char *const *headers);
/* Add a row of ncols cells (copied; NULL prints as "-"). */
int hl_table_add(hl_table_t *tbl, const char *const *cells);
/* Print with every column padded to its widest cell (the last column is not padded). */
void hl_table_print(const hl_table_t *tbl, FILE *out);
void hl_table_destroy(hl_table_t **tbl);

#endif
