/*
 * cli.h - helpers shared by the CLI commands (cli.c): output format, JSON printing, attempt
 * records, and the `endpoint test` run (cli_test.c).
 */
#ifndef HL_CLI_H
#define HL_CLI_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "admin.h"

/* -o json | table (text). -1 with a message on anything else. */
int hl_cli_output(hl_admin_t *adm, const char *value);
/* Print compact JSON and a newline; steals the reference. */
void hl_cli_print_json_new(json_t *j);
void hl_cli_print_endpoint(const hl_endpoint_t *ep, bool show_secret, FILE *out);

/* One attempt record of hl:recent (docs/storage.md) as a sentence:
 * "attempt 1 at <ts>: HTTP 200 in 34 ms (delivered)" plus error/excerpt lines. */
void hl_cli_print_attempt(json_t *a, FILE *out);
/* Did the attempt succeed (2xx)? */
bool hl_cli_attempt_ok(json_t *a);

/* Publish a hookline.ping to the endpoint and wait up to wait_ms for its attempt. */
int hl_cli_test_run(hl_admin_t *adm, hl_store_t *st, const char *tenant, const char *id,
                    int64_t wait_ms);

#endif
