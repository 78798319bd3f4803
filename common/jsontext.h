/*
 * jsontext.h - validate JSON text and compact it without re-serialising it.
 *
 * The event envelope (envelope.c) needs two things a tree parser cannot give: the producer's
 * `data` delivered byte for byte (numbers such as 0.1 or 12345678901234567890 stay as written,
 * escapes stay as written) and a validator that is not the bottleneck of the dispatcher's single
 * thread.  This scanner checks RFC 8259 JSON with strict UTF-8 (no overlong forms, no encoded
 * surrogates, nothing above U+10FFFF), paired \u surrogate escapes and a nesting limit, and writes
 * the same text without insignificant whitespace.  It builds no tree and allocates nothing.
 *
 * Duplicate member names are not an error here (RFC 8259 leaves them to the application): the
 * caller of hl_json_compact_object sees every top-level member and decides.
 */
#ifndef HL_JSONTEXT_H
#define HL_JSONTEXT_H

#include <stddef.h>

#define HL_JSON_MAX_DEPTH 512

/*
 * Validate exactly one JSON value (any type) in in[0..len) and write its compact form to out,
 * which must hold at least len bytes (no NUL is added).  0 ok with *outlen set; -1 with
 * "not valid JSON: <what> at line L, column C" in errstr.
 */
int hl_json_compact(const char *in, size_t len, char *out, size_t *outlen, char *errstr,
                    size_t errsize);

/*
 * Called for each top-level member of an object, in order, with its compact name token (quotes
 * included, escapes as written) and its compact value token; both point into the output buffer
 * and stay valid until it is reused.
 */
typedef void hl_json_member_cb(const char *name, size_t name_len, const char *value,
                               size_t value_len, void *opaque);

/*
 * As hl_json_compact for a text that must be an object, calling cb for every top-level member.
 * 0 ok; -1 with errstr: not valid JSON, or "must be a JSON object" when the text is valid JSON
 * of another type.
 */
int hl_json_compact_object(const char *in, size_t len, char *out, size_t *outlen,
                           hl_json_member_cb *cb, void *opaque, char *errstr, size_t errsize);

/*
 * Decode a string token as given to the callback (quotes included, already validated) into
 * out as UTF-8 plus a NUL.  The decoded length, which counts any \u0000 as one byte, goes to
 * *outlen.  0 ok; -1 when out is too small.
 */
int hl_json_string_decode(const char *tok, size_t len, char *out, size_t outsz, size_t *outlen);

#endif
