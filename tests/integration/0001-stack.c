/*
 * 0001-stack: the local stack works. Produce a record with librdkafka to a fresh topic on the
 * local broker, consume it back byte for byte, and round-trip a value through Redis.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"
#include "util.h"

static void test_kafka_roundtrip(void **state) {
  char prefix[32], topic[64], value[64];
  const char *topics[1] = {topic};
  rd_kafka_message_t *msg = NULL;
  rd_kafka_t *p, *c;
  int64_t deadline;

  hl_test_prefix(prefix, sizeof(prefix));
  snprintf(topic, sizeof(topic), "%s.events", prefix);
  snprintf(value, sizeof(value), "hello %s", prefix);
  assert_int_equal(hl_test_create_topics(topics, 1, 2), 0);

  p = hl_test_producer();
  assert_non_null(p);
  assert_int_equal(rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY("acme", 4),
                                     RD_KAFKA_V_VALUE(value, strlen(value)),
                                     RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
                   RD_KAFKA_RESP_ERR_NO_ERROR);
  assert_int_equal(rd_kafka_flush(p, (int)hl_test_tmout_ms(20000)), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_destroy(p);

  c = hl_test_consumer(topic);
  assert_non_null(c);
  deadline = hl_mono_ms() + hl_test_tmout_ms(30000);
  while (hl_mono_ms() < deadline) {
    msg = rd_kafka_consumer_poll(c, 500);
    if (msg && !msg->err)
      break;
    if (msg)
      rd_kafka_message_destroy(msg);
    msg = NULL;
  }
  assert_non_null(msg);
  assert_int_equal(msg->len, strlen(value));
  assert_memory_equal(msg->payload, value, msg->len);
  assert_int_equal(msg->key_len, 4);
  assert_memory_equal(msg->key, "acme", 4);
  rd_kafka_message_destroy(msg);
  rd_kafka_consumer_close(c);
  rd_kafka_destroy(c);
}

static void test_redis_roundtrip(void **state) {
  redisContext *r = hl_test_redis();
  char key[64];
  redisReply *rep;

  assert_non_null(r);
  hl_test_prefix(key, sizeof(key));
  rep = redisCommand(r, "SET %s %s EX 60", key, "round-trip");
  assert_non_null(rep);
  assert_int_equal(rep->type, REDIS_REPLY_STATUS);
  freeReplyObject(rep);
  rep = redisCommand(r, "GET %s", key);
  assert_non_null(rep);
  assert_int_equal(rep->type, REDIS_REPLY_STRING);
  assert_string_equal(rep->str, "round-trip");
  freeReplyObject(rep);
  freeReplyObject(redisCommand(r, "DEL %s", key));
  redisFree(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_kafka_roundtrip),
      cmocka_unit_test(test_redis_roundtrip),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
