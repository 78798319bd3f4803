/*
 * publish.c - hookline-publish: publish events from flags, a file or stdin.
 */
#include <stdio.h>
#include <string.h>

#include "hookline/producer.h"

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "--version") == 0) {
    printf("hookline-publish %s\n", hookline_version());
    return 0;
  }
  fprintf(stderr, "hookline-publish: publishing is not built yet\n");
  return 2;
}
