/*
 * admin.h - what hookline-admin's modules share: the loaded configuration, the output format,
 * exit codes, and the entry point of each command (main.c dispatches).
 */
#ifndef HL_ADMIN_H
#define HL_ADMIN_H

#include <stdbool.h>
#include <stdio.h>

#include "config.h"
#include "store.h"

/* Exit codes of every command (docs/admin.md). */
enum {
  HL_EXIT_OK = 0,
  HL_EXIT_NOTFOUND = 1,
  HL_EXIT_USAGE = 2,   /* bad usage or a value breaking its rule */
  HL_EXIT_UNAVAIL = 3, /* Redis, Kafka or the dispatcher unreachable or failing */
};

typedef struct hl_admin {
  hl_conf_t *conf;
  bool json; /* -o json */
} hl_admin_t;

/* hl_store_err_t -> exit code. */
int hl_admin_exit_code(int store_rc);
/* Open the store, reporting failures on stderr; the exit code, 0 ok. */
int hl_admin_store_open(hl_admin_t *adm, hl_store_t **st);
/* "hookline-admin: <msg>" on stderr. */
void hl_admin_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

int hl_cli_endpoint(hl_admin_t *adm, int argc, char **argv);
int hl_cli_attempts(hl_admin_t *adm, int argc, char **argv);
int hl_cli_dlq(hl_admin_t *adm, int argc, char **argv);
int hl_server_serve(hl_admin_t *adm, int argc, char **argv);
/* `routes`: every route of the REST API as "METHOD /path/{param}" lines. */
int hl_api_print_routes(FILE *out);

#endif
