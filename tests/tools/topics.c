/*
 * topics.c - hl-test-topics: create Kafka topics for shell tests and benchmarks (auto-creation
 * is off), or delete them again.
 *   hl-test-topics [-p PARTITIONS] NAME...
 *   hl-test-topics -d NAME...
 *   hl-test-topics -P PREFIX     delete every topic whose name starts with PREFIX
 * Uses HOOKLINE_KAFKA_BOOTSTRAP_SERVERS (default 127.0.0.1:19092).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

/* Delete topics (at most 64); unknown ones are not an error. 0 ok. */
static int hl_topics_delete(char **names, int n) {
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  rd_kafka_DeleteTopic_t *dt[64];
  rd_kafka_event_t *ev = NULL;
  rd_kafka_queue_t *q = NULL;
  rd_kafka_t *rk;
  char err[256];
  int rc = -1;

  rd_kafka_conf_set(conf, "bootstrap.servers", hl_test_bootstrap(), err, sizeof(err));
  rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  if (!rk || n > 64)
    goto out;
  q = rd_kafka_queue_new(rk);
  for (int i = 0; i < n; i++)
    dt[i] = rd_kafka_DeleteTopic_new(names[i]);
  rd_kafka_DeleteTopics(rk, dt, (size_t)n, NULL, q);
  ev = rd_kafka_queue_poll(q, (int)hl_test_tmout_ms(30000));
  if (ev && rd_kafka_event_type(ev) == RD_KAFKA_EVENT_DELETETOPICS_RESULT) {
    size_t cnt;
    const rd_kafka_topic_result_t **res =
        rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev), &cnt);

    rc = 0;
    for (size_t i = 0; i < cnt; i++) {
      rd_kafka_resp_err_t e = rd_kafka_topic_result_error(res[i]);

      if (e && e != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
        fprintf(stderr, "delete topic %s: %s\n", rd_kafka_topic_result_name(res[i]),
                rd_kafka_err2str(e));
        rc = -1;
      }
    }
  }
  for (int i = 0; i < n; i++)
    rd_kafka_DeleteTopic_destroy(dt[i]);
out:
  if (ev)
    rd_kafka_event_destroy(ev);
  if (q)
    rd_kafka_queue_destroy(q);
  if (rk)
    rd_kafka_destroy(rk);
  return rc;
}

/* Delete every topic named PREFIX*, 64 at a time (test runs leave thousands of partitions
 * behind otherwise, and the broker loads them all at start). 0 ok. */
static int hl_topics_prune(const char *prefix) {
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  const struct rd_kafka_metadata *md = NULL;
  size_t plen = strlen(prefix);
  char err[256], *batch[64];
  int n = 0, rc = 0, total = 0;
  rd_kafka_t *rk;

  rd_kafka_conf_set(conf, "bootstrap.servers", hl_test_bootstrap(), err, sizeof(err));
  rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  if (!rk)
    return -1;
  if (rd_kafka_metadata(rk, 1, NULL, &md, (int)hl_test_tmout_ms(10000)) != 0) {
    rd_kafka_destroy(rk);
    return -1;
  }
  for (int i = 0; i < md->topic_cnt; i++) {
    if (strncmp(md->topics[i].topic, prefix, plen) != 0)
      continue;
    batch[n++] = md->topics[i].topic;
    total++;
    if (n == 64) {
      rc |= hl_topics_delete(batch, n);
      n = 0;
    }
  }
  if (n > 0)
    rc |= hl_topics_delete(batch, n);
  printf("hl-test-topics: deleted %d topic(s) named %s*\n", total, prefix);
  rd_kafka_metadata_destroy(md);
  rd_kafka_destroy(rk);
  return rc;
}

int main(int argc, char **argv) {
  int partitions = 3, del = 0, opt;

  while ((opt = getopt(argc, argv, "p:dP:")) != -1) {
    if (opt == 'p') {
      partitions = atoi(optarg);
    } else if (opt == 'd') {
      del = 1;
    } else if (opt == 'P') {
      return hl_topics_prune(optarg) == 0 ? 0 : 1;
    } else {
      fprintf(stderr, "usage: hl-test-topics [-p PARTITIONS] NAME...\n"
                      "       hl-test-topics -d NAME...\n"
                      "       hl-test-topics -P PREFIX\n");
      return 2;
    }
  }
  if (optind >= argc)
    return 2;
  if (del)
    return hl_topics_delete(argv + optind, argc - optind) == 0 ? 0 : 1;
  return hl_test_create_topics((const char **)argv + optind, argc - optind, partitions) == 0 ? 0
                                                                                             : 1;
}
