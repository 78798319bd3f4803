/*
 * test_subcache: the dispatcher's tenant snapshot cache - LRU eviction under the cap, entries
 * with a fetch in flight never evicted, snapshots held by callers outliving their entry, flush.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "subcache.h"

/* A snapshot of `tenant` with one endpoint "ep_<tenant>". */
static hl_subs_tenant_t *snap_of(const char *tenant) {
  hl_endpoint_t **eps = calloc(1, sizeof(*eps));

  assert_non_null(eps);
  eps[0] = hl_endpoint_new();
  assert_non_null(eps[0]);
  snprintf(eps[0]->id, sizeof(eps[0]->id), "ep_%s", tenant);
  snprintf(eps[0]->tenant, sizeof(eps[0]->tenant), "%s", tenant);
  return hl_subs_tenant_new(tenant, eps, 1, 0);
}

static void put(hl_subcache_t *sc, const char *tenant) {
  hl_subcache_entry_t *ent = hl_subcache_get(sc, tenant);

  assert_non_null(ent);
  hl_subcache_set(ent, snap_of(tenant), 1000);
}

static void test_lru_eviction(void **state) {
  hl_subcache_t *sc = hl_subcache_new(3);

  put(sc, "a");
  put(sc, "b");
  put(sc, "c");
  assert_int_equal(hl_subcache_count(sc), 3);
  put(sc, "d"); /* evicts a, the least recently used */
  assert_int_equal(hl_subcache_count(sc), 3);
  assert_int_equal(hl_subcache_evictions(sc), 1);
  assert_null(hl_subcache_find(sc, "a"));
  assert_non_null(hl_subcache_find(sc, "b")); /* b is now the most recent */
  put(sc, "e");                               /* evicts c, not b */
  assert_null(hl_subcache_find(sc, "c"));
  assert_non_null(hl_subcache_find(sc, "b"));
  assert_non_null(hl_subcache_find(sc, "d"));
  assert_non_null(hl_subcache_find(sc, "e"));
  assert_int_equal(hl_subcache_evictions(sc), 2);
  hl_subcache_destroy(&sc);
  assert_null(sc);
  hl_subcache_destroy(&sc);
}

static void test_busy_entries_stay(void **state) {
  hl_subcache_t *sc = hl_subcache_new(2);
  hl_subcache_entry_t *a = hl_subcache_get(sc, "a");
  int fetch;

  a->fetch = &fetch; /* a fetch in flight pins the entry */
  put(sc, "b");
  put(sc, "c"); /* a is LRU but busy: b goes */
  assert_ptr_equal(hl_subcache_find(sc, "a"), a);
  assert_null(hl_subcache_find(sc, "b"));
  assert_non_null(hl_subcache_find(sc, "c"));
  assert_int_equal(hl_subcache_count(sc), 2);
  put(sc, "d"); /* c goes; a still stays */
  assert_ptr_equal(hl_subcache_find(sc, "a"), a);
  assert_int_equal(hl_subcache_count(sc), 2);
  /* flush keeps the busy entry (without a snapshot) and drops the rest */
  hl_subcache_set(a, snap_of("a"), 1000);
  hl_subcache_flush(sc);
  assert_int_equal(hl_subcache_count(sc), 1);
  assert_ptr_equal(hl_subcache_find(sc, "a"), a);
  assert_null(a->snap);
  a->fetch = NULL;
  hl_subcache_destroy(&sc);
}

static void test_held_snapshot_outlives_entry(void **state) {
  hl_subcache_t *sc = hl_subcache_new(1);
  hl_subs_tenant_t *held;

  put(sc, "a");
  held = hl_subs_tenant_hold(hl_subcache_find(sc, "a")->snap);
  assert_int_equal(held->refcnt, 2);
  put(sc, "b"); /* evicts a: the cache's reference goes, ours stays */
  assert_null(hl_subcache_find(sc, "a"));
  assert_int_equal(held->refcnt, 1);
  assert_string_equal(held->tenant, "a");
  assert_int_equal(held->neps, 1);
  assert_string_equal(held->eps[0]->id, "ep_a");
  hl_subs_tenant_release(&held); /* frees (ASan/valgrind check) */
  assert_null(held);
  hl_subs_tenant_release(&held);
  hl_subcache_destroy(&sc);
}

static void test_many_tenants_bounded(void **state) {
  hl_subcache_t *sc = hl_subcache_new(100);
  char t[32], big[HL_TENANT_MAX + 2];

  for (int i = 0; i < 10000; i++) {
    snprintf(t, sizeof(t), "tenant-%d", i);
    put(sc, t);
  }
  assert_int_equal(hl_subcache_count(sc), 100);
  assert_int_equal(hl_subcache_evictions(sc), 9900);
  assert_non_null(hl_subcache_find(sc, "tenant-9999"));
  assert_non_null(hl_subcache_find(sc, "tenant-9900"));
  assert_null(hl_subcache_find(sc, "tenant-9899"));
  /* too long a tenant name is refused */
  memset(big, 'x', sizeof(big) - 1);
  big[sizeof(big) - 1] = '\0';
  assert_null(hl_subcache_get(sc, big));
  hl_subcache_destroy(&sc);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_lru_eviction),
      cmocka_unit_test(test_busy_entries_stay),
      cmocka_unit_test(test_held_snapshot_outlives_entry),
      cmocka_unit_test(test_many_tenants_bounded),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
