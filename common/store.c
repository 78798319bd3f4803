/*
 * store.c - endpoints in Redis through hiredis's synchronous API (store.h, docs/storage.md).
 *
 * Owns the key names, the three Lua scripts every write goes through (write with a version
 * check, delete, status change), the connection (lazy reconnect before the next call; a write is
 * never retried blindly) and the optimistic read-modify-write loop.
 */
#include "store.h"

#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "ssrf.h"
#include "util.h"

#define HL_STORE_RETRIES 32
#define HL_STORE_LIST_MAX 1000

/* KEYS[1] hl:ep:<id>, KEYS[2] hl:tenant:<tenant>:eps; ARGV[1] the version read ("0": create),
 * ARGV[2] tenant, ARGV[3] id, ARGV[4] the new version, ARGV[5..] the whole hash as pairs. */
static const char hl_lua_write[] =
    "local cur = redis.call('HGET', KEYS[1], 'version')\n"
    "if ARGV[1] == '0' then\n"
    "  if cur then return 'EXISTS' end\n"
    "else\n"
    "  if not cur or redis.call('HGET', KEYS[1], 'tenant') ~= ARGV[2] then return 'NOTFOUND' end\n"
    "  if cur ~= ARGV[1] then return 'CONFLICT' end\n"
    "end\n"
    "redis.call('DEL', KEYS[1])\n"
    "redis.call('HSET', KEYS[1], unpack(ARGV, 5))\n"
    "redis.call('SADD', KEYS[2], ARGV[3])\n"
    "redis.call('PUBLISH', 'hl:changes', ARGV[2] .. ' ' .. ARGV[3] .. ' ' .. ARGV[4])\n"
    "return 'OK'\n";

/* KEYS: hl:ep:<id>, hl:tenant:<tenant>:eps, hl:rl:<id>, hl:health:<id>, hl:recent:<id>;
 * ARGV[1] tenant, ARGV[2] id. */
static const char hl_lua_delete[] =
    "local cur = redis.call('HGET', KEYS[1], 'version')\n"
    "if not cur or redis.call('HGET', KEYS[1], 'tenant') ~= ARGV[1] then return 'NOTFOUND' end\n"
    "redis.call('DEL', KEYS[1], KEYS[3], KEYS[4], KEYS[5])\n"
    "redis.call('SREM', KEYS[2], ARGV[2])\n"
    "redis.call('PUBLISH', 'hl:changes', ARGV[1] .. ' ' .. ARGV[2] .. ' ' .. (tonumber(cur) + 1))\n"
    "return 'OK'\n";

/* KEYS[1] hl:ep:<id> (KEYS[2] hl:health:<id>, optional: cleared on enable);
 * ARGV[1] enabled|disabled, ARGV[2] reason, ARGV[3] now (Unix ms). */
const char HL_STORE_LUA_STATUS[] =
    "if ARGV[1] ~= 'enabled' and ARGV[1] ~= 'disabled' then\n"
    "  return redis.error_reply('status must be enabled or disabled')\n"
    "end\n"
    "local id = redis.call('HGET', KEYS[1], 'id')\n"
    "if not id then return 0 end\n"
    "if redis.call('HGET', KEYS[1], 'status') == ARGV[1] then\n"
    "  return tonumber(redis.call('HGET', KEYS[1], 'version'))\n"
    "end\n"
    "if ARGV[1] == 'disabled' then\n"
    "  redis.call('HSET', KEYS[1], 'status', 'disabled', 'disabled_reason', ARGV[2],\n"
    "             'disabled_at', ARGV[3])\n"
    "else\n"
    "  redis.call('HSET', KEYS[1], 'status', 'enabled')\n"
    "  redis.call('HDEL', KEYS[1], 'disabled_reason', 'disabled_at')\n"
    "  if KEYS[2] then redis.call('DEL', KEYS[2]) end\n"
    "end\n"
    "redis.call('HSET', KEYS[1], 'updated', ARGV[3])\n"
    "local v = redis.call('HINCRBY', KEYS[1], 'version', 1)\n"
    "redis.call('PUBLISH', 'hl:changes', redis.call('HGET', KEYS[1], 'tenant') .. ' ' .. id ..\n"
    "            ' ' .. v)\n"
    "return v\n";

enum { HL_LUA_WRITE, HL_LUA_DELETE, HL_LUA_STATUS, HL_LUA_COUNT };

static const char *const hl_lua[HL_LUA_COUNT] = {hl_lua_write, hl_lua_delete, HL_STORE_LUA_STATUS};

struct hl_store {
  redisContext *c;
  char *host, *username, *password;
  int port, db;
  int64_t timeout_ms;
  hl_secretbox_t *box;
  hl_ssrf_t *ssrf;
  bool https_only;
  int64_t overlap_ms;
  char sha[HL_LUA_COUNT][41];
};

/* ---- keys ---- */

static void hl_key(char *out, size_t outsz, const char *kind, const char *id) {
  snprintf(out, outsz, "hl:%s:%s", kind, id);
}

static void hl_key_tenant(char *out, size_t outsz, const char *tenant) {
  snprintf(out, outsz, "hl:tenant:%s:eps", tenant);
}

/* Ids are ours: "ep_" + base62.  Anything else cannot name an endpoint. */
static bool hl_id_ok(const char *id) {
  size_t n = id ? strlen(id) : 0;

  if (n < 4 || n > HL_EP_ID_MAX || strncmp(id, "ep_", 3) != 0)
    return false;
  return strspn(id + 3, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") == n - 3;
}

static int hl_not_found(const char *tenant, const char *id, char *errstr, size_t errsize) {
  if (tenant)
    snprintf(errstr, errsize, "endpoint %s not found for tenant %s", id, tenant);
  else
    snprintf(errstr, errsize, "endpoint %s not found", id);
  return HL_STORE_ENOTFOUND;
}

/* ---- connection ---- */

static int hl_store_io_error(hl_store_t *st, const char *what, char *errstr, size_t errsize) {
  snprintf(errstr, errsize, "redis %s:%d: %s", st->host, st->port,
           st->c && st->c->err ? st->c->errstr : what);
  if (st->c && st->c->err) {
    redisFree(st->c);
    st->c = NULL;
  }
  return HL_STORE_EIO;
}

/* One command on a fresh connection during setup; 0 ok. */
static int hl_store_setup_cmd(hl_store_t *st, int argc, const char **argv, char *out, size_t outsz,
                              char *errstr, size_t errsize) {
  redisReply *r = redisCommandArgv(st->c, argc, argv, NULL);
  int rc = 0;

  if (!r)
    return hl_store_io_error(st, "no reply", errstr, errsize);
  if (r->type == REDIS_REPLY_ERROR) {
    snprintf(errstr, errsize, "redis %s:%d: %s: %s", st->host, st->port, argv[0], r->str);
    rc = HL_STORE_EIO;
  } else if (out && r->type == REDIS_REPLY_STRING) {
    snprintf(out, outsz, "%s", r->str);
  }
  freeReplyObject(r);
  return rc;
}

static int hl_store_handshake(hl_store_t *st, char *errstr, size_t errsize) {
  char db[16];
  int rc = 0;

  if (*st->password) {
    const char *auth[] = {"AUTH", st->username, st->password};

    rc = *st->username ? hl_store_setup_cmd(st, 3, auth, NULL, 0, errstr, errsize)
                       : hl_store_setup_cmd(st, 2, (const char *[]){"AUTH", st->password}, NULL, 0,
                                            errstr, errsize);
  }
  snprintf(db, sizeof(db), "%d", st->db);
  if (rc == 0 && st->db != 0)
    rc = hl_store_setup_cmd(st, 2, (const char *[]){"SELECT", db}, NULL, 0, errstr, errsize);
  for (int i = 0; rc == 0 && i < HL_LUA_COUNT; i++) {
    const char *load[] = {"SCRIPT", "LOAD", hl_lua[i]};

    rc = hl_store_setup_cmd(st, 3, load, st->sha[i], sizeof(st->sha[i]), errstr, errsize);
  }
  return rc;
}

/* Connected and ready, reconnecting when the last connection failed. */
static int hl_store_conn(hl_store_t *st, char *errstr, size_t errsize) {
  struct timeval tv = {(time_t)(st->timeout_ms / 1000),
                       (suseconds_t)(st->timeout_ms % 1000) * 1000};

  if (st->c && !st->c->err)
    return 0;
  if (st->c)
    redisFree(st->c);
  st->c = redisConnectWithTimeout(st->host, st->port, tv);
  if (!st->c || st->c->err)
    return hl_store_io_error(st, "cannot connect", errstr, errsize);
  if (redisSetTimeout(st->c, tv) != REDIS_OK || hl_store_handshake(st, errstr, errsize) != 0) {
    if (st->c && !st->c->err) {
      redisFree(st->c);
      st->c = NULL;
      return HL_STORE_EIO;
    }
    return hl_store_io_error(st, "handshake failed", errstr, errsize);
  }
  return 0;
}

/* A command; NULL with errstr (HL_STORE_EIO) on connection or server error. */
static redisReply *hl_store_cmd(hl_store_t *st, int argc, const char **argv, const size_t *lens,
                                char *errstr, size_t errsize) {
  redisReply *r;

  if (hl_store_conn(st, errstr, errsize) != 0)
    return NULL;
  r = redisCommandArgv(st->c, argc, argv, lens);
  if (!r) {
    hl_store_io_error(st, "no reply", errstr, errsize);
    return NULL;
  }
  if (r->type == REDIS_REPLY_ERROR) {
    snprintf(errstr, errsize, "redis %s:%d: %s: %s", st->host, st->port, argv[0], r->str);
    freeReplyObject(r);
    return NULL;
  }
  return r;
}

/*
 * EVALSHA script with keys and args (args may carry lengths); EVAL when the server lost the
 * script (restart, SCRIPT FLUSH).
 */
static redisReply *hl_store_eval(hl_store_t *st, int script, int nkeys, const char **keys,
                                 int nargs, const char **args, const size_t *arglens, char *errstr,
                                 size_t errsize) {
  int argc = 3 + nkeys + nargs;
  const char **argv = calloc((size_t)argc, sizeof(*argv));
  size_t *lens = calloc((size_t)argc, sizeof(*lens));
  char numkeys[8];
  redisReply *r = NULL;

  if (!argv || !lens || hl_store_conn(st, errstr, errsize) != 0)
    goto out;
  snprintf(numkeys, sizeof(numkeys), "%d", nkeys);
  argv[0] = "EVALSHA";
  argv[1] = st->sha[script];
  argv[2] = numkeys;
  for (int i = 0; i < nkeys; i++)
    argv[3 + i] = keys[i];
  for (int i = 0; i < nargs; i++)
    argv[3 + nkeys + i] = args[i];
  for (int i = 0; i < argc; i++)
    lens[i] = i >= 3 + nkeys && arglens ? arglens[i - 3 - nkeys] : strlen(argv[i]);
  r = redisCommandArgv(st->c, argc, argv, lens);
  if (r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0) {
    freeReplyObject(r);
    argv[0] = "EVAL";
    argv[1] = hl_lua[script];
    lens[0] = 4;
    lens[1] = strlen(hl_lua[script]);
    r = redisCommandArgv(st->c, argc, argv, lens);
  }
  if (!r) {
    hl_store_io_error(st, "no reply", errstr, errsize);
  } else if (r->type == REDIS_REPLY_ERROR) {
    snprintf(errstr, errsize, "redis %s:%d: script: %s", st->host, st->port, r->str);
    freeReplyObject(r);
    r = NULL;
  }
out:
  free(argv);
  free(lens);
  return r;
}

/* ---- open / close ---- */

int hl_store_secretbox_from_conf(const hl_conf_t *conf, hl_secretbox_t **box, char *errstr,
                                 size_t errsize) {
  static bool warned;
  const char *key = hl_conf_str(conf, "secret_key");

  *box = NULL;
  if (*key) {
    *box = hl_secretbox_new(key, errstr, errsize);
    return *box ? 0 : -1;
  }
  if (!warned)
    hl_warn("secret_key (HOOKLINE_SECRET_KEY) is not set: endpoint secrets and mTLS client keys "
            "are stored in Redis in the clear");
  warned = true;
  return 0;
}

static int hl_store_conf(hl_store_t *st, const hl_conf_t *conf, char *errstr, size_t errsize) {
  st->host = strdup(hl_conf_str(conf, "redis.host"));
  st->username = strdup(hl_conf_str(conf, "redis.username"));
  st->password = strdup(hl_conf_str(conf, "redis.password"));
  st->port = (int)hl_conf_int(conf, "redis.port");
  st->db = (int)hl_conf_int(conf, "redis.db");
  st->timeout_ms = hl_conf_int(conf, "redis.timeout");
  st->https_only = hl_conf_bool(conf, "delivery.https_only");
  st->overlap_ms = hl_conf_int(conf, "secrets.rotation_overlap");
  if (!st->host || !st->username || !st->password) {
    snprintf(errstr, errsize, "out of memory");
    return HL_STORE_EINVAL;
  }
  if (hl_store_secretbox_from_conf(conf, &st->box, errstr, errsize) != 0)
    return HL_STORE_EINVAL;
  st->ssrf = hl_ssrf_new(hl_conf_str(conf, "delivery.allow_cidrs"), errstr, errsize);
  return st->ssrf ? 0 : HL_STORE_EINVAL;
}

int hl_store_open(const hl_conf_t *conf, hl_store_t **out, char *errstr, size_t errsize) {
  hl_store_t *st = calloc(1, sizeof(*st));
  int rc;

  *out = NULL;
  if (!st) {
    snprintf(errstr, errsize, "out of memory");
    return HL_STORE_EINVAL;
  }
  rc = hl_store_conf(st, conf, errstr, errsize);
  if (rc != 0) {
    hl_store_destroy(&st);
    return rc;
  }
  *out = st;
  return hl_store_conn(st, errstr, errsize);
}

void hl_store_destroy(hl_store_t **stp) {
  hl_store_t *st = stp ? *stp : NULL;

  if (!st)
    return;
  if (st->c)
    redisFree(st->c);
  free(st->host);
  free(st->username);
  free(st->password);
  hl_secretbox_destroy(&st->box);
  hl_ssrf_destroy(&st->ssrf);
  free(st);
  *stp = NULL;
}

int hl_store_ping(hl_store_t *st, char *errstr, size_t errsize) {
  redisReply *r = hl_store_cmd(st, 1, (const char *[]){"PING"}, NULL, errstr, errsize);

  if (!r)
    return HL_STORE_EIO;
  freeReplyObject(r);
  return 0;
}

/* ---- read ---- */

static hl_endpoint_t *hl_store_decode(hl_store_t *st, const redisReply *r, const char *id,
                                      char *errstr, size_t errsize) {
  size_t n = r->elements / 2;
  const char **fields = calloc(n + 1, sizeof(*fields)), **values = calloc(n + 1, sizeof(*values));
  size_t *lens = calloc(n + 1, sizeof(*lens));
  hl_endpoint_t *ep = NULL;
  char msg[256];

  if (!fields || !values || !lens) {
    snprintf(errstr, errsize, "out of memory");
    goto out;
  }
  for (size_t i = 0; i < n; i++) {
    fields[i] = r->element[2 * i]->str;
    values[i] = r->element[2 * i + 1]->str;
    lens[i] = r->element[2 * i + 1]->len;
  }
  ep = hl_endpoint_from_hash(fields, values, lens, n, st->box, msg, sizeof(msg));
  if (!ep)
    snprintf(errstr, errsize, "hl:ep:%s is unreadable: %s", id, msg);
out:
  free(fields);
  free(values);
  free(lens);
  return ep;
}

int hl_store_endpoint_get(hl_store_t *st, const char *tenant, const char *id, hl_endpoint_t **out,
                          char *errstr, size_t errsize) {
  char key[128];
  redisReply *r;
  int rc = HL_STORE_EIO;

  *out = NULL;
  if (!hl_id_ok(id))
    return hl_not_found(tenant, id ? id : "", errstr, errsize);
  hl_key(key, sizeof(key), "ep", id);
  r = hl_store_cmd(st, 2, (const char *[]){"HGETALL", key}, NULL, errstr, errsize);
  if (!r)
    return HL_STORE_EIO;
  if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) {
    rc = hl_not_found(tenant, id, errstr, errsize);
    goto out;
  }
  *out = hl_store_decode(st, r, id, errstr, errsize);
  if (!*out)
    goto out;
  rc = HL_STORE_OK;
  if (tenant && strcmp((*out)->tenant, tenant) != 0) {
    hl_endpoint_destroy(out);
    rc = hl_not_found(tenant, id, errstr, errsize);
  }
out:
  freeReplyObject(r);
  return rc;
}

static int hl_cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The ids of the page: sorted members after `after`, at most limit; *more when some follow. */
static size_t hl_store_page(redisReply *members, const char *after, size_t limit, char **ids,
                            bool *more) {
  char **all = malloc(members->elements * sizeof(*all));
  size_t n = 0;

  *more = false;
  if (!all)
    return 0;
  for (size_t i = 0; i < members->elements; i++)
    all[i] = members->element[i]->str;
  qsort(all, members->elements, sizeof(*all), hl_cmp_str);
  for (size_t i = 0; i < members->elements; i++) {
    if (strcmp(all[i], after) <= 0)
      continue;
    if (n == limit) {
      *more = true;
      break;
    }
    ids[n++] = all[i];
  }
  free(all);
  return n;
}

/* HGETALL every id of the page in one pipeline; vanished ones are skipped. */
static int hl_store_fetch(hl_store_t *st, char **ids, size_t nids, hl_endpoint_t **eps, size_t *n,
                          char *errstr, size_t errsize) {
  char key[128];
  redisReply *r;
  int rc = 0;

  for (size_t i = 0; i < nids; i++) {
    hl_key(key, sizeof(key), "ep", ids[i]);
    redisAppendCommand(st->c, "HGETALL %s", key);
  }
  for (size_t i = 0; i < nids; i++) {
    if (redisGetReply(st->c, (void **)&r) != REDIS_OK || !r)
      return hl_store_io_error(st, "no reply", errstr, errsize);
    if (rc == 0 && r->type == REDIS_REPLY_ARRAY && r->elements > 0) {
      eps[*n] = hl_store_decode(st, r, ids[i], errstr, errsize);
      rc = eps[*n] ? 0 : HL_STORE_EIO;
      *n += eps[*n] ? 1 : 0;
    }
    freeReplyObject(r);
  }
  return rc;
}

int hl_store_endpoint_list(hl_store_t *st, const char *tenant, const char *after, size_t limit,
                           hl_endpoint_t ***eps, size_t *n, char *next, size_t nextsz, char *errstr,
                           size_t errsize) {
  char key[128], **ids = NULL;
  redisReply *r;
  size_t nids;
  bool more;
  int rc = HL_STORE_EIO;

  *eps = NULL;
  *n = 0;
  next[0] = '\0';
  limit = limit == 0 || limit > HL_STORE_LIST_MAX ? HL_STORE_LIST_MAX : limit;
  hl_key_tenant(key, sizeof(key), tenant);
  r = hl_store_cmd(st, 2, (const char *[]){"SMEMBERS", key}, NULL, errstr, errsize);
  if (!r)
    return HL_STORE_EIO;
  if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) {
    snprintf(errstr, errsize, "tenant %s not found (it has no endpoints)", tenant);
    rc = HL_STORE_ENOTFOUND;
    goto out;
  }
  ids = malloc(limit * sizeof(*ids));
  *eps = calloc(limit + 1, sizeof(**eps));
  if (!ids || !*eps)
    goto out;
  nids = hl_store_page(r, after ? after : "", limit, ids, &more);
  rc = hl_store_fetch(st, ids, nids, *eps, n, errstr, errsize);
  if (rc == 0 && more && nids > 0)
    snprintf(next, nextsz, "%s", ids[nids - 1]);
out:
  if (rc != 0)
    hl_store_list_free(eps, *n);
  free(ids);
  freeReplyObject(r);
  return rc;
}

void hl_store_list_free(hl_endpoint_t ***eps, size_t n) {
  if (!eps || !*eps)
    return;
  for (size_t i = 0; i < n; i++)
    hl_endpoint_destroy(&(*eps)[i]);
  free(*eps);
  *eps = NULL;
}

/* ---- write ---- */

/* Run the write script for ep, expecting `expected` (0: must not exist). */
static int hl_store_write(hl_store_t *st, const hl_endpoint_t *ep, int64_t expected, char *errstr,
                          size_t errsize) {
  char kep[128], kten[128], exp[24], ver[24];
  const char *keys[2] = {kep, kten}, *args[4 + 2 * HL_EP_HASH_FIELDS];
  hl_ep_hash_t h;
  redisReply *r;
  int rc = HL_STORE_EIO;

  if (hl_endpoint_to_hash(ep, st->box, &h) != 0) {
    snprintf(errstr, errsize, "cannot encode the endpoint (secret too long or out of memory)");
    return HL_STORE_EINVAL;
  }
  hl_key(kep, sizeof(kep), "ep", ep->id);
  hl_key_tenant(kten, sizeof(kten), ep->tenant);
  snprintf(exp, sizeof(exp), "%" PRId64, expected);
  snprintf(ver, sizeof(ver), "%" PRId64, ep->version);
  args[0] = exp;
  args[1] = ep->tenant;
  args[2] = ep->id;
  args[3] = ver;
  for (size_t i = 0; i < h.n; i++) {
    args[4 + 2 * i] = h.fields[i];
    args[5 + 2 * i] = h.values[i];
  }
  r = hl_store_eval(st, HL_LUA_WRITE, 2, keys, 4 + 2 * (int)h.n, args, NULL, errstr, errsize);
  hl_ep_hash_clear(&h);
  if (!r)
    return HL_STORE_EIO;
  if (r->type == REDIS_REPLY_STRING && strcmp(r->str, "OK") == 0)
    rc = HL_STORE_OK;
  else if (r->type == REDIS_REPLY_STRING && strcmp(r->str, "CONFLICT") == 0)
    rc = HL_STORE_ECONFLICT;
  else if (r->type == REDIS_REPLY_STRING && strcmp(r->str, "EXISTS") == 0)
    rc = HL_STORE_EINVAL;
  else
    rc = hl_not_found(ep->tenant, ep->id, errstr, errsize);
  freeReplyObject(r);
  return rc;
}

int hl_store_endpoint_create(hl_store_t *st, hl_endpoint_t *ep, char *errstr, size_t errsize) {
  int64_t now = hl_now_ms();
  int rc = HL_STORE_EINVAL;

  if (ep->nsecrets == 0 &&
      hl_endpoint_rotate_secret(ep, NULL, now, st->overlap_ms, errstr, errsize) != 0)
    return HL_STORE_EINVAL;
  ep->created_ms = ep->updated_ms = now;
  ep->version = 1;
  for (int attempt = 0; attempt < 3 && rc == HL_STORE_EINVAL; attempt++) {
    memcpy(ep->id, "ep_", 3);
    if (hl_rand_base62(ep->id + 3, 22) != 0)
      return HL_STORE_EIO;
    if (hl_endpoint_validate(ep, st->ssrf, st->https_only, true, errstr, errsize) != 0)
      return HL_STORE_EINVAL;
    rc = hl_store_write(st, ep, 0, errstr, errsize); /* EINVAL here: the id exists, draw again */
  }
  return rc;
}

/* Short random pause between optimistic retries so racing writers spread out. */
static void hl_store_backoff(int attempt) {
  unsigned char r = 0;
  struct timespec ts;

  hl_rand_bytes(&r, 1);
  ts.tv_sec = 0;
  ts.tv_nsec = (long)(1 + r % (2 + attempt)) * 1000000L;
  nanosleep(&ts, NULL);
}

/* One optimistic round: read, mutate, validate, write-if-unchanged. */
static int hl_store_update_once(hl_store_t *st, const char *tenant, const char *id,
                                hl_store_mutate_cb *mutate, void *opaque, hl_endpoint_t **ep,
                                char *errstr, size_t errsize) {
  char keep_id[HL_EP_ID_MAX + 1], keep_tenant[65], *old_url = NULL;
  int64_t read_version;
  int rc = hl_store_endpoint_get(st, tenant, id, ep, errstr, errsize);

  if (rc != 0)
    return rc;
  strcpy(keep_id, (*ep)->id);
  strcpy(keep_tenant, (*ep)->tenant);
  read_version = (*ep)->version;
  old_url = strdup((*ep)->url);
  rc = HL_STORE_EINVAL;
  if (!old_url || mutate(*ep, opaque, errstr, errsize) != 0)
    goto out;
  strcpy((*ep)->id, keep_id); /* identity is not the mutator's to change */
  strcpy((*ep)->tenant, keep_tenant);
  (*ep)->version = read_version + 1;
  (*ep)->updated_ms = hl_now_ms();
  if (hl_endpoint_validate(*ep, st->ssrf, st->https_only, strcmp(old_url, (*ep)->url) != 0, errstr,
                           errsize) != 0)
    goto out;
  rc = hl_store_write(st, *ep, read_version, errstr, errsize);
out:
  free(old_url);
  if (rc != 0)
    hl_endpoint_destroy(ep);
  return rc;
}

int hl_store_endpoint_update(hl_store_t *st, const char *tenant, const char *id,
                             hl_store_mutate_cb *mutate, void *opaque, hl_endpoint_t **out,
                             char *errstr, size_t errsize) {
  hl_endpoint_t *ep = NULL;
  int rc = HL_STORE_ECONFLICT;

  for (int attempt = 0; attempt < HL_STORE_RETRIES && rc == HL_STORE_ECONFLICT; attempt++) {
    if (attempt > 0)
      hl_store_backoff(attempt);
    rc = hl_store_update_once(st, tenant, id, mutate, opaque, &ep, errstr, errsize);
  }
  if (rc == HL_STORE_ECONFLICT)
    snprintf(errstr, errsize, "endpoint %s: too many concurrent updates, try again", id);
  if (out)
    *out = ep;
  else
    hl_endpoint_destroy(&ep);
  return rc;
}

typedef struct hl_rotate_arg {
  const char *secret;
  int64_t overlap_ms;
} hl_rotate_arg_t;

static int hl_store_rotate_cb(hl_endpoint_t *ep, void *opaque, char *errstr, size_t errsize) {
  const hl_rotate_arg_t *arg = opaque;

  return hl_endpoint_rotate_secret(ep, arg->secret, hl_now_ms(), arg->overlap_ms, errstr, errsize);
}

int hl_store_endpoint_rotate(hl_store_t *st, const char *tenant, const char *id, const char *secret,
                             hl_endpoint_t **out, char *errstr, size_t errsize) {
  hl_rotate_arg_t arg = {secret, st->overlap_ms};

  return hl_store_endpoint_update(st, tenant, id, hl_store_rotate_cb, &arg, out, errstr, errsize);
}

int hl_store_endpoint_set_status(hl_store_t *st, const char *tenant, const char *id, bool enabled,
                                 const char *reason, hl_endpoint_t **out, char *errstr,
                                 size_t errsize) {
  char kep[128], khealth[128], now[24];
  const char *keys[2] = {kep, khealth};
  const char *args[3] = {enabled ? "enabled" : "disabled", reason ? reason : "", now};
  hl_endpoint_t *ep = NULL;
  redisReply *r;
  int rc = hl_store_endpoint_get(st, tenant, id, &ep, errstr, errsize);

  hl_endpoint_destroy(&ep);
  if (rc != 0)
    return rc;
  if (reason && strlen(reason) > 256) {
    snprintf(errstr, errsize, "reason: at most 256 characters");
    return HL_STORE_EINVAL;
  }
  hl_key(kep, sizeof(kep), "ep", id);
  hl_key(khealth, sizeof(khealth), "health", id);
  snprintf(now, sizeof(now), "%" PRId64, hl_now_ms());
  r = hl_store_eval(st, HL_LUA_STATUS, 2, keys, 3, args, NULL, errstr, errsize);
  if (!r)
    return HL_STORE_EIO;
  rc = r->type == REDIS_REPLY_INTEGER && r->integer > 0 ? 0
                                                        : hl_not_found(tenant, id, errstr, errsize);
  freeReplyObject(r);
  if (rc == 0 && out)
    rc = hl_store_endpoint_get(st, tenant, id, out, errstr, errsize);
  return rc;
}

int hl_store_endpoint_delete(hl_store_t *st, const char *tenant, const char *id, char *errstr,
                             size_t errsize) {
  char k[5][128];
  const char *keys[5] = {k[0], k[1], k[2], k[3], k[4]};
  hl_endpoint_t *ep = NULL;
  redisReply *r;
  int rc = hl_store_endpoint_get(st, tenant, id, &ep, errstr, errsize);

  if (rc != 0)
    return rc;
  hl_key(k[0], sizeof(k[0]), "ep", id);
  hl_key_tenant(k[1], sizeof(k[1]), ep->tenant);
  hl_key(k[2], sizeof(k[2]), "rl", id);
  hl_key(k[3], sizeof(k[3]), "health", id);
  hl_key(k[4], sizeof(k[4]), "recent", id);
  r = hl_store_eval(st, HL_LUA_DELETE, 5, keys, 2, (const char *[]){ep->tenant, id}, NULL, errstr,
                    errsize);
  hl_endpoint_destroy(&ep);
  if (!r)
    return HL_STORE_EIO;
  rc = r->type == REDIS_REPLY_STRING && strcmp(r->str, "OK") == 0
           ? 0
           : hl_not_found(tenant, id, errstr, errsize);
  freeReplyObject(r);
  return rc;
}

/* ---- attempts ---- */

int hl_store_attempts(hl_store_t *st, const char *tenant, const char *id, size_t limit,
                      char ***items, size_t *n, char *errstr, size_t errsize) {
  char key[128], stop[24];
  hl_endpoint_t *ep = NULL;
  redisReply *r;
  int rc = hl_store_endpoint_get(st, tenant, id, &ep, errstr, errsize);

  *items = NULL;
  *n = 0;
  hl_endpoint_destroy(&ep);
  if (rc != 0)
    return rc;
  hl_key(key, sizeof(key), "recent", id);
  snprintf(stop, sizeof(stop), "%zu", (limit == 0 ? 100 : limit) - 1);
  r = hl_store_cmd(st, 4, (const char *[]){"LRANGE", key, "0", stop}, NULL, errstr, errsize);
  if (!r)
    return HL_STORE_EIO;
  *items = calloc(r->elements + 1, sizeof(**items));
  for (size_t i = 0; *items && i < r->elements; i++) {
    if (r->element[i]->type == REDIS_REPLY_STRING)
      (*items)[(*n)++] = strndup(r->element[i]->str, r->element[i]->len);
  }
  freeReplyObject(r);
  return *items ? 0 : HL_STORE_EIO;
}

void hl_store_strings_free(char ***items, size_t n) {
  if (!items || !*items)
    return;
  for (size_t i = 0; i < n; i++)
    free((*items)[i]);
  free(*items);
  *items = NULL;
}

int hl_store_done_exists(hl_store_t *st, const char *event_id, const char *endpoint_id, bool *done,
                         char *errstr, size_t errsize) {
  char key[512];
  redisReply *r;

  snprintf(key, sizeof(key), HL_STORE_DONE_KEY_FMT, event_id, endpoint_id);
  r = hl_store_cmd(st, 2, (const char *[]){"EXISTS", key}, NULL, errstr, errsize);
  if (!r)
    return HL_STORE_EIO;
  *done = r->type == REDIS_REPLY_INTEGER && r->integer > 0;
  freeReplyObject(r);
  return HL_STORE_OK;
}
