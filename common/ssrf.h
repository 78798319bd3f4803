/*
 * ssrf.h - the SSRF guard's address classifier (DESIGN.md §7).
 *
 * Only public unicast addresses pass: loopback, private, link-local (incl. 169.254.169.254),
 * CGNAT, multicast, reserved, documentation, benchmarking, unspecified and broadcast ranges are
 * denied in IPv4 and IPv6, including IPv4 embedded in IPv6 (IPv4-mapped, IPv4-compatible,
 * NAT64 64:ff9b::/96, 6to4 2002::/16) and Teredo (2001::/32, denied outright); IPv6 outside
 * 2000::/3 is "reserved".  `delivery.allow_cidrs` opens ranges: an allowed CIDR matches the
 * address itself or, for the embedded forms, the IPv4 address inside.
 * Used by hookline-admin when an endpoint URL is saved and by the dispatcher on every connect.
 * Pure functions (no I/O, no DNS); an hl_ssrf_t is read-only once built, shareable by threads.
 */
#ifndef HL_SSRF_H
#define HL_SSRF_H

#include <stddef.h>
#include <sys/socket.h>

typedef struct hl_ssrf hl_ssrf_t;

/* allow_cidrs: comma-separated CIDRs (IPv4 or IPv6, "" or NULL for none; a bare address is one
 * host; whitespace around items ignored).  NULL + errstr naming the item on a bad one. */
hl_ssrf_t *hl_ssrf_new(const char *allow_cidrs, char *errstr, size_t errsize);
void hl_ssrf_destroy(hl_ssrf_t **ssrf);

/* NULL when the address may be connected to, else the reason it is denied ("loopback", ...;
 * "not_an_address" for a family other than AF_INET/AF_INET6).  ssrf NULL: no allow list. */
const char *hl_ssrf_check_sockaddr(const hl_ssrf_t *ssrf, const struct sockaddr *sa);
/* Same for an IP literal in any form a URL host may take (see hl_ssrf_parse_host);
 * "not_an_address" when it is none. */
const char *hl_ssrf_check_ip(const hl_ssrf_t *ssrf, const char *ip);

/*
 * Is host an IP literal, read as getaddrinfo/inet_aton would: dotted quad, legacy forms
 * (0177.0.0.1, 0x7f000001, 2130706433, 127.1, one trailing dot), IPv6 with or without
 * brackets and zone id (%eth0 or %25eth0, not kept)?  1 literal (out filled, port 0), 0 a host
 * name, -1 garbage: empty, bad brackets, characters no host name has, or a name ending in a
 * number that is no valid IPv4 address (127.0.0.1.1, 4294967296, 08.1).
 */
int hl_ssrf_parse_host(const char *host, struct sockaddr_storage *out);

/*
 * Check an endpoint URL: http or https (https only when https_only), no credentials, a host;
 * an IP literal or localhost name must pass the classifier.  Other host names pass here: their
 * addresses are checked when the dispatcher connects.  0 ok, -1 with a message for the user.
 */
int hl_ssrf_check_url(const hl_ssrf_t *ssrf, const char *url, int https_only, char *errstr,
                      size_t errsize);

#endif
