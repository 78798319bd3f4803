/*
 * topics.c - hl-test-topics: create Kafka topics for shell tests (auto-creation is off).
 *   hl-test-topics [-p PARTITIONS] NAME...
 * Uses HOOKLINE_KAFKA_BOOTSTRAP_SERVERS (default 127.0.0.1:19092).
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "harness.h"

int main(int argc, char **argv) {
  int partitions = 3, opt;

  while ((opt = getopt(argc, argv, "p:")) != -1) {
    if (opt != 'p') {
      fprintf(stderr, "usage: hl-test-topics [-p PARTITIONS] NAME...\n");
      return 2;
    }
    partitions = atoi(optarg);
  }
  if (optind >= argc)
    return 2;
  return hl_test_create_topics((const char **)argv + optind, argc - optind, partitions) == 0 ? 0 : 1;
}
