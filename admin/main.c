/*
 * main.c - hookline-admin: global options, configuration, and command dispatch.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin.h"
#include "cli.h"
#include "config.h"
#include "log.h"

#define HL_MAX_OVERRIDES 64

static void usage(FILE *out) {
  fprintf(out,
          "usage: hookline-admin [-c FILE] [-o key=value]... [-o json] COMMAND\n"
          "\n"
          "commands:\n"
          "  endpoint ACTION   create|list|get|update|delete|rotate-secret|enable|disable|test\n"
          "                    (`hookline-admin endpoint --help` for their flags)\n"
          "  attempts list     recent delivery attempts of an endpoint (--endpoint ID)\n"
          "  dlq list|replay   inspect the dead-letter topic, replay deliveries from it\n"
          "                    (`hookline-admin dlq --help` for the filters)\n"
          "  serve             run the REST API (http.listen, default 0.0.0.0:8080)\n"
          "  routes            print the REST API's routes\n"
          "  config doc        print the configuration reference (docs/configuration.md)\n"
          "  config show       print the effective configuration, secrets masked\n"
          "  version           print the version\n"
          "\n"
          "exit codes: 0 ok, 1 not found, 2 usage or invalid value, 3 Redis, Kafka or the\n"
          "dispatcher unreachable or failing\n");
}

/*
 * Kafka settings hookline-admin wants unless configured: publishing answers within ~5 s (a
 * 503 or an error rather than a request hanging for librdkafka's default 30 s).
 */
static void hl_admin_kafka_defaults(hl_conf_t *conf) {
  static const char *defaults[][2] = {{"message.timeout.ms", "5000"},
                                      {"client.id", "hookline-admin"}};
  const char *key, *value;
  char err[128], name[64];

  for (size_t d = 0; d < sizeof(defaults) / sizeof(defaults[0]); d++) {
    bool set = false;

    for (size_t i = 0; i < hl_conf_kafka_count(conf) && !set; i++) {
      hl_conf_kafka_get(conf, i, &key, &value);
      set = strcmp(key, defaults[d][0]) == 0;
    }
    snprintf(name, sizeof(name), "kafka.%s", defaults[d][0]);
    if (!set)
      hl_conf_set(conf, name, defaults[d][1], err, sizeof(err));
  }
}

static int hl_admin_config(hl_admin_t *adm, int argc, char **argv) {
  if (argc == 2 && strcmp(argv[1], "doc") == 0) {
    hl_conf_write_markdown(stdout);
    return HL_EXIT_OK;
  }
  if (argc == 2 && strcmp(argv[1], "show") == 0) {
    hl_conf_dump(adm->conf, stdout);
    return HL_EXIT_OK;
  }
  usage(stderr);
  return HL_EXIT_USAGE;
}

static int hl_admin_run(hl_admin_t *adm, int argc, char **argv) {
  const char *cmd = argv[0];

  if (strcmp(cmd, "version") == 0) {
    printf("hookline-admin %s\n", HOOKLINE_VERSION);
    return HL_EXIT_OK;
  }
  if (strcmp(cmd, "config") == 0)
    return hl_admin_config(adm, argc, argv);
  if (strcmp(cmd, "endpoint") == 0 || strcmp(cmd, "endpoints") == 0)
    return hl_cli_endpoint(adm, argc, argv);
  if (strcmp(cmd, "attempts") == 0)
    return hl_cli_attempts(adm, argc, argv);
  if (strcmp(cmd, "dlq") == 0)
    return hl_cli_dlq(adm, argc, argv);
  if (strcmp(cmd, "serve") == 0)
    return hl_server_serve(adm, argc, argv);
  if (strcmp(cmd, "routes") == 0)
    return hl_api_print_routes(stdout);
  hl_admin_err("unknown command \"%s\"", cmd);
  usage(stderr);
  return HL_EXIT_USAGE;
}

int main(int argc, char **argv) {
  char *overrides[HL_MAX_OVERRIDES];
  const char *path = NULL;
  hl_admin_t adm = {0};
  char err[512];
  int nover = 0, opt, rc = HL_EXIT_USAGE;

  while ((opt = getopt(argc, argv, "+c:o:h")) != -1) {
    if (opt == 'c') {
      path = optarg;
    } else if (opt == 'o' && !strchr(optarg, '=')) {
      if (hl_cli_output(&adm, optarg) != 0) /* -o json before the command */
        return HL_EXIT_USAGE;
    } else if (opt == 'o' && nover < HL_MAX_OVERRIDES) {
      overrides[nover++] = optarg;
    } else {
      usage(opt == 'h' ? stdout : stderr);
      return opt == 'h' ? HL_EXIT_OK : HL_EXIT_USAGE;
    }
  }
  if (optind >= argc) {
    usage(stderr);
    return HL_EXIT_USAGE;
  }
  hl_log_init("hookline-admin", NULL);
  adm.conf = hl_conf_new();
  if (argc - optind >= 1 && strcmp(argv[optind], "serve") == 0)
    hl_conf_set_default(adm.conf, "http.listen", "0.0.0.0:8080");
  if (hl_conf_load(adm.conf, path, overrides, nover, err, sizeof(err)) != 0) {
    hl_admin_err("%s", err);
    goto out;
  }
  if (hl_log_init("hookline-admin", hl_conf_str(adm.conf, "log.level")) != 0) {
    hl_admin_err("log.level: \"%s\" is not debug, info, warn or error",
                 hl_conf_str(adm.conf, "log.level"));
    goto out;
  }
  hl_admin_kafka_defaults(adm.conf);
  rc = hl_admin_run(&adm, argc - optind, argv + optind);
out:
  hl_conf_destroy(&adm.conf);
  return rc;
}
