/*
 * main.c - hookline-admin: command dispatch.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

static void usage(FILE *out) {
  fprintf(out, "usage: hookline-admin [-c FILE] [-o key=value]... COMMAND\n"
               "\n"
               "commands:\n"
               "  config doc     print the configuration reference (docs/configuration.md)\n"
               "  config show    print the effective configuration, secrets masked\n"
               "  version        print the version\n");
}

int main(int argc, char **argv) {
  char *overrides[64];
  const char *path = NULL;
  char err[512];
  int nover = 0, opt, rc = 2;
  hl_conf_t *conf = NULL;

  while ((opt = getopt(argc, argv, "+c:o:h")) != -1) {
    if (opt == 'c') {
      path = optarg;
    } else if (opt == 'o' && nover < 64) {
      overrides[nover++] = optarg;
    } else {
      usage(opt == 'h' ? stdout : stderr);
      return opt == 'h' ? 0 : 2;
    }
  }
  if (optind >= argc) {
    usage(stderr);
    return 2;
  }
  hl_log_init("hookline-admin", NULL);
  conf = hl_conf_new();
  if (hl_conf_load(conf, path, overrides, nover, err, sizeof(err)) != 0) {
    fprintf(stderr, "hookline-admin: %s\n", err);
    goto out;
  }
  if (strcmp(argv[optind], "version") == 0) {
    printf("hookline-admin %s\n", HOOKLINE_VERSION);
    rc = 0;
  } else if (strcmp(argv[optind], "config") == 0 && optind + 1 < argc &&
             strcmp(argv[optind + 1], "doc") == 0) {
    hl_conf_write_markdown(stdout);
    rc = 0;
  } else if (strcmp(argv[optind], "config") == 0 && optind + 1 < argc &&
             strcmp(argv[optind + 1], "show") == 0) {
    hl_conf_dump(conf, stdout);
    rc = 0;
  } else {
    usage(stderr);
  }
out:
  hl_conf_destroy(&conf);
  return rc;
}
