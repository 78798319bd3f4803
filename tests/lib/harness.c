/*
 * harness.c - see harness.h.
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

int64_t hl_test_tmout_ms(int64_t ms) {
  const char *s = getenv("HOOKLINE_TEST_TIMEOUT_SCALE");
  double scale = s ? atof(s) : 1.0;

  return (int64_t)((double)ms * (scale > 0 ? scale : 1.0));
}

const char *hl_test_bootstrap(void) {
  const char *s = getenv("HOOKLINE_KAFKA_BOOTSTRAP_SERVERS");

  return s && *s ? s : "127.0.0.1:19092";
}

const char *hl_test_redis_host(void) {
  const char *s = getenv("HOOKLINE_REDIS_HOST");

  return s && *s ? s : "127.0.0.1";
}

int hl_test_redis_port(void) {
  const char *s = getenv("HOOKLINE_REDIS_PORT");

  return s && *s ? atoi(s) : 16379;
}

void hl_test_prefix(char *out, size_t outsz) {
  char r[11];

  hl_rand_base62(r, 10);
  snprintf(out, outsz, "hltest_%s", r);
}

void hl_test_bin(const char *name, char *out, size_t outsz) {
  const char *dir = getenv("HOOKLINE_BIN_DIR");

  snprintf(out, outsz, "%s/%s", dir && *dir ? dir : "build/bin", name);
}

static rd_kafka_t *hl_test_kafka(rd_kafka_type_t type, rd_kafka_conf_t *conf) {
  char err[512];
  rd_kafka_t *rk;

  if (rd_kafka_conf_set(conf, "bootstrap.servers", hl_test_bootstrap(), err, sizeof(err)))
    goto fail;
  rk = rd_kafka_new(type, conf, err, sizeof(err));
  if (rk)
    return rk;
fail:
  fprintf(stderr, "kafka client: %s\n", err);
  rd_kafka_conf_destroy(conf);
  return NULL;
}

/* 1 when the broker's metadata has TOPIC with every partition led. */
static int hl_test_topic_ready(rd_kafka_t *rk, const char *topic) {
  rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
  const struct rd_kafka_metadata *md = NULL;
  int ready = 0;

  if (rkt && rd_kafka_metadata(rk, 0, rkt, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR &&
      md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
      md->topics[0].partition_cnt > 0) {
    ready = 1;
    for (int p = 0; p < md->topics[0].partition_cnt; p++)
      if (md->topics[0].partitions[p].leader < 0)
        ready = 0;
  }
  if (md)
    rd_kafka_metadata_destroy(md);
  if (rkt)
    rd_kafka_topic_destroy(rkt);
  return ready;
}

int hl_test_create_topics(const char **names, int n, int partitions) {
  rd_kafka_t *rk = hl_test_kafka(RD_KAFKA_PRODUCER, rd_kafka_conf_new());
  rd_kafka_NewTopic_t *nt[64];
  rd_kafka_queue_t *q;
  rd_kafka_event_t *ev;
  char err[256];
  int rc = -1;

  if (!rk || n > 64)
    return -1;
  q = rd_kafka_queue_new(rk);
  for (int i = 0; i < n; i++)
    nt[i] = rd_kafka_NewTopic_new(names[i], partitions, 1, err, sizeof(err));
  rd_kafka_CreateTopics(rk, nt, (size_t)n, NULL, q);
  ev = rd_kafka_queue_poll(q, (int)hl_test_tmout_ms(30000));
  if (ev && rd_kafka_event_type(ev) == RD_KAFKA_EVENT_CREATETOPICS_RESULT) {
    size_t cnt;
    const rd_kafka_topic_result_t **res =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &cnt);

    rc = 0;
    for (size_t i = 0; i < cnt; i++) {
      rd_kafka_resp_err_t e = rd_kafka_topic_result_error(res[i]);

      if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        fprintf(stderr, "create topic %s: %s\n", rd_kafka_topic_result_name(res[i]),
                rd_kafka_err2str(e));
        rc = -1;
      }
    }
  }
  /* CreateTopics answers before every broker's metadata has the topic (a busy broker was seen
   * answering "unknown topic" to the next program): wait until it is led. */
  for (int i = 0; rc == 0 && i < n; i++) {
    int64_t deadline = hl_mono_ms() + hl_test_tmout_ms(30000);

    while (!hl_test_topic_ready(rk, names[i])) {
      if (hl_mono_ms() > deadline) {
        fprintf(stderr, "create topic %s: no leader after the creation\n", names[i]);
        rc = -1;
        break;
      }
      usleep(100 * 1000);
    }
  }
  if (ev)
    rd_kafka_event_destroy(ev);
  for (int i = 0; i < n; i++)
    rd_kafka_NewTopic_destroy(nt[i]);
  rd_kafka_queue_destroy(q);
  rd_kafka_destroy(rk);
  return rc;
}

rd_kafka_t *hl_test_producer(void) {
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  char err[256];

  rd_kafka_conf_set(conf, "enable.idempotence", "true", err, sizeof(err));
  rd_kafka_conf_set(conf, "linger.ms", "5", err, sizeof(err));
  return hl_test_kafka(RD_KAFKA_PRODUCER, conf);
}

rd_kafka_t *hl_test_consumer(const char *topic) {
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  rd_kafka_topic_partition_list_t *tl;
  char err[256], group[48];
  rd_kafka_t *rk;

  hl_test_prefix(group, sizeof(group));
  rd_kafka_conf_set(conf, "group.id", group, err, sizeof(err));
  rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", err, sizeof(err));
  rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof(err));
  rk = hl_test_kafka(RD_KAFKA_CONSUMER, conf);
  if (!rk)
    return NULL;
  rd_kafka_poll_set_consumer(rk);
  tl = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(tl, topic, RD_KAFKA_PARTITION_UA);
  rd_kafka_subscribe(rk, tl);
  rd_kafka_topic_partition_list_destroy(tl);
  return rk;
}

redisContext *hl_test_redis(void) {
  struct timeval tv = {5, 0};
  redisContext *c = redisConnectWithTimeout(hl_test_redis_host(), hl_test_redis_port(), tv);

  if (c && c->err) {
    fprintf(stderr, "redis: %s\n", c->errstr);
    redisFree(c);
    return NULL;
  }
  return c;
}

pid_t hl_test_spawn(char *const argv[], const char *log_path) {
  pid_t pid = fork();

  if (pid != 0)
    return pid;
  if (log_path) {
    int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);

    if (fd >= 0) {
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
      close(fd);
    }
  }
  execvp(argv[0], argv);
  fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
  _exit(127);
}

int hl_test_wait(pid_t pid, int64_t ms) {
  int64_t deadline = hl_mono_ms() + ms;
  int status;

  for (;;) {
    pid_t r = waitpid(pid, &status, WNOHANG);

    if (r == pid)
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (r < 0 || hl_mono_ms() >= deadline)
      return -1;
    usleep(20000);
  }
}

int hl_test_stop(pid_t pid, int64_t ms) {
  int rc;

  kill(pid, SIGTERM);
  rc = hl_test_wait(pid, ms);
  if (rc == -1) {
    kill(pid, SIGKILL);
    hl_test_wait(pid, 5000);
  }
  return rc;
}

pid_t hl_test_receiver_start(const char *record_path, char *const extra[], int *port) {
  char bin[512], portfile[64], prefix[32];
  char *argv[64];
  int argc = 0;
  pid_t pid;

  hl_test_bin("hl-test-receiver", bin, sizeof(bin));
  hl_test_prefix(prefix, sizeof(prefix));
  snprintf(portfile, sizeof(portfile), "/tmp/%s.port", prefix);
  argv[argc++] = bin;
  argv[argc++] = "--port-file";
  argv[argc++] = portfile;
  if (record_path) {
    argv[argc++] = "--record";
    argv[argc++] = (char *)record_path;
  }
  for (int i = 0; extra && extra[i] && argc < 62; i++)
    argv[argc++] = extra[i];
  argv[argc] = NULL;
  pid = hl_test_spawn(argv, NULL);
  *port = 0;
  for (int64_t deadline = hl_mono_ms() + hl_test_tmout_ms(10000); hl_mono_ms() < deadline;) {
    FILE *fp = fopen(portfile, "r");

    if (fp) {
      int ok = fscanf(fp, "%d", port) == 1;

      fclose(fp);
      if (ok && *port > 0) {
        unlink(portfile);
        return pid;
      }
    }
    usleep(10000);
  }
  hl_test_stop(pid, 1000);
  return -1;
}
