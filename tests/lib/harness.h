/*
 * harness.h - helpers for integration tests: the local stack's addresses, random topic
 * prefixes, topic creation, child processes (programs under test, the test receiver) and
 * timeouts scaled by HOOKLINE_TEST_TIMEOUT_SCALE.
 */
#ifndef HL_TEST_HARNESS_H
#define HL_TEST_HARNESS_H

#include <hiredis/hiredis.h>
#include <librdkafka/rdkafka.h>
#include <stdint.h>
#include <sys/types.h>

/* Milliseconds scaled by HOOKLINE_TEST_TIMEOUT_SCALE (librdkafka's tmout_multip). */
int64_t hl_test_tmout_ms(int64_t ms);
const char *hl_test_bootstrap(void); /* HOOKLINE_KAFKA_BOOTSTRAP_SERVERS or 127.0.0.1:19092 */
const char *hl_test_redis_host(void);
int hl_test_redis_port(void);
/* "hltest_<10 random base62>"; out >= 32 bytes. */
void hl_test_prefix(char *out, size_t outsz);
/* Path of a built program: $HOOKLINE_BIN_DIR/name (static buffer per call site is not kept). */
void hl_test_bin(const char *name, char *out, size_t outsz);

/* Create topics (partitions each, replication 1) and wait until the broker knows them. 0 ok. */
int hl_test_create_topics(const char **names, int n, int partitions);
rd_kafka_t *hl_test_producer(void);
/* A consumer in a fresh random group reading `topic` from the beginning. */
rd_kafka_t *hl_test_consumer(const char *topic);
redisContext *hl_test_redis(void);

/* Start argv[0] with argv (execvp); stdout/stderr to log_path when not NULL. */
pid_t hl_test_spawn(char *const argv[], const char *log_path);
/* Wait up to ms for pid to exit; returns exit status (0..255), 128+signal, or -1 on timeout. */
int hl_test_wait(pid_t pid, int64_t ms);
/* SIGTERM, wait up to ms, then SIGKILL. Returns the exit status as hl_test_wait. */
int hl_test_stop(pid_t pid, int64_t ms);

/* Start the test receiver (tests/tools/receiver.c) with extra args; returns pid, port in *port. */
pid_t hl_test_receiver_start(const char *record_path, char *const extra[], int *port);

#endif
