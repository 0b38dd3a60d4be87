/* icmp_err: read the socket error queue (IP_RECVERR) and turn ICMP errors into verdicts;
 * shared by the TCP and UDP probes. */
#ifndef WATCH53_ICMP_ERR_H
#define WATCH53_ICMP_ERR_H

#include <stdbool.h>
#include <stdint.h>

#include "probes/probe.h"

/* Ask the kernel to queue ICMP errors with their origin on this socket. 0 or -errno. */
int icmp_err_enable(int fd, int family);

/* Drain the error queue. Returns 1 and sets the state and reason for the most telling ICMP error
 * from the probed address (port unreachable -> closed, other unreachables -> filtered),
 * 0 if the queue held no ICMP error, or -errno. */
int icmp_err_read(int fd, enum probe_state *state, enum probe_reason *reason);

struct msghdr;
/* One message read from the error queue (recvmsg with MSG_ERRQUEUE): 1 and the state and
 * reason if its control data carries an ICMP or ICMPv6 error, else 0. */
int icmp_err_parse(const struct msghdr *msg, enum probe_state *state, enum probe_reason *reason);

/* The same mapping for an ICMP (family AF_INET) or ICMPv6 (AF_INET6) error seen on the
 * wire (the SYN scanner captures them instead of reading an error queue). */
void icmp_err_classify(int family, uint8_t type, uint8_t code, enum probe_state *state,
		       enum probe_reason *reason);

#endif
