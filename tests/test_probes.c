/* test_probes: the tcp and udp probe modules through the real engine, against sockets this
 * test opens on 127.0.0.1 (ephemeral ports): a thread plays the DNS server, so the replies
 * (matching, wrong ID, wrong question, garbage, junk sprayed before or instead of a reply)
 * are exactly what each case needs, and it counts the queries it received. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/util.h"
#include "probes/dns.h"
#include "probes/engine.h"
#include "probes/udp.h"

enum reply_mode {
	REPLY_MATCH, REPLY_WRONG_ID, REPLY_WRONG_QUESTION, REPLY_GARBAGE, REPLY_NONE,
	REPLY_JUNK,            /* JUNK_PER_QUERY 1-octet datagrams per query, never a reply */
	REPLY_JUNK_THEN_MATCH, /* junk for every query; the matching reply to query match_at */
	REPLY_JUNK_THEN_CLOSE, /* junk for the first query, then the port closes */
	REPLY_NO_QUESTION,     /* REFUSED, AA and RA set, QDCOUNT 0 (unbound's refuse) */
	REPLY_LATE_BIND,       /* the port is closed (ICMP port unreachable) for LATE_BIND_MS,
				* then bound and answering like REPLY_MATCH */
};

#define LATE_BIND_MS 100

#define JUNK_PER_QUERY 5

struct server {
	int fd;
	uint16_t port;
	enum reply_mode mode;
	int match_at;  /* REPLY_JUNK_THEN_MATCH: the query (1-based) that gets its reply */
	int queries;
	uint16_t last_id;
	int saw_edns;
	atomic_bool bound;
	pthread_t thread;
};

/* Answer every query (until the socket is shut down) the way the mode says. */
static void *
server_main(void *arg)
{
	struct server *s = arg;
	uint8_t buf[1500];

	if (s->mode == REPLY_LATE_BIND) {
		struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(s->port) };
		usleep(LATE_BIND_MS * 1000);
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		s->fd = socket(AF_INET, SOCK_DGRAM, 0);
		if (s->fd < 0 || bind(s->fd, (struct sockaddr *)&sin, sizeof(sin)) != 0)
			s->fd = -1;
		atomic_store(&s->bound, true);
		if (s->fd < 0)
			return NULL;
	}
	for (;;) {
		struct sockaddr_in from;
		socklen_t flen = sizeof(from);
		ssize_t n = recvfrom(s->fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen);
		if (n <= 0)
			break;
		if (n < DNS_HEADER_LEN)
			continue;
		s->queries++;
		s->last_id = (uint16_t)(buf[0] << 8 | buf[1]);
		s->saw_edns = buf[11] == 1; /* arcount: the OPT record */
		switch (s->mode) {
		case REPLY_NONE:
			continue;
		case REPLY_JUNK:
		case REPLY_JUNK_THEN_MATCH:
		case REPLY_JUNK_THEN_CLOSE:
			/* what a spoofer spraying our ephemeral ports would deliver */
			for (int k = 0; k < JUNK_PER_QUERY; k++)
				sendto(s->fd, "\x00", 1, 0, (struct sockaddr *)&from, flen);
			if (s->mode == REPLY_JUNK_THEN_CLOSE) {
				/* from now on the kernel answers ICMP port unreachable */
				close(s->fd);
				return NULL;
			}
			if (s->mode == REPLY_JUNK || s->queries != s->match_at)
				continue;
			break;
		case REPLY_GARBAGE:
			sendto(s->fd, "\x00\x01hello", 7, 0, (struct sockaddr *)&from, flen);
			continue;
		case REPLY_WRONG_ID:
			buf[1] ^= 0x5a;
			break;
		case REPLY_WRONG_QUESTION:
			/* the root query's qtype sits right after the 1-octet root name */
			buf[DNS_HEADER_LEN + 2] ^= 0x01;
			break;
		case REPLY_MATCH:
		case REPLY_NO_QUESTION:
		case REPLY_LATE_BIND:
			break;
		}
		buf[2] |= 0x84; /* QR, AA */
		buf[3] = 0x85;  /* RA, REFUSED */
		buf[11] = 0;    /* drop the OPT record */
		n = DNS_HEADER_LEN + 1 + 4;
		if (s->mode == REPLY_NO_QUESTION) {
			buf[5] = 0; /* qdcount: the bare header */
			n = DNS_HEADER_LEN;
		}
		sendto(s->fd, buf, (size_t)n, 0, (struct sockaddr *)&from, flen);
	}
	return NULL;
}

static int
bind_loopback(int type, uint16_t *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, type, 0);

	assert_true(fd >= 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

static void
server_start_at(struct server *s, enum reply_mode mode, int match_at)
{
	memset(s, 0, sizeof(*s));
	s->mode = mode;
	s->match_at = match_at;
	s->fd = bind_loopback(SOCK_DGRAM, &s->port);
	if (mode == REPLY_LATE_BIND) { /* closed until the thread binds it again */
		close(s->fd);
		s->fd = -1;
	}
	assert_int_equal(pthread_create(&s->thread, NULL, server_main, s), 0);
}

static void
server_start(struct server *s, enum reply_mode mode)
{
	server_start_at(s, mode, 0);
}

static void
server_stop(struct server *s)
{
	if (s->mode == REPLY_JUNK_THEN_CLOSE) { /* the thread closed its socket itself */
		pthread_join(s->thread, NULL);
		return;
	}
	while (!atomic_load(&s->bound) && s->mode == REPLY_LATE_BIND)
		usleep(1000);
	if (s->fd < 0) {
		pthread_join(s->thread, NULL);
		return;
	}
	shutdown(s->fd, SHUT_RDWR);
	pthread_join(s->thread, NULL);
	close(s->fd);
}

static struct probe_result one;
static int nresults;

static int
next_once(void *arg, struct net_addr *a, uint32_t *tidx)
{
	int *done = arg;

	if (*done)
		return 0;
	*done = 1;
	*tidx = 0;
	return net_addr_parse("127.0.0.1", a) == 0 ? 1 : -EINVAL;
}

static void
keep(void *arg, const struct probe_result *r)
{
	(void)arg;
	one = *r;
	nresults++;
}

static void
scan_port_arg(const struct probe_module *m, uint16_t port, uint64_t timeout_ns, void *arg)
{
	struct engine_config c;
	char err[128];
	int done = 0;

	memset(&c, 0, sizeof(c));
	c.concurrency = 4;
	c.timeout_ns = timeout_ns;
	c.retries = 2;
	c.opts.port = port;
	c.opts.qname_len = (size_t)dns_name_from_text(".", c.opts.qname, sizeof(c.opts.qname));
	c.opts.qtype = DNS_TYPE_NS;
	c.module_arg[c.nmodules] = arg;
	c.modules[c.nmodules++] = m;
	struct engine *e = engine_new(&c, err, sizeof(err));
	assert_non_null(e);
	nresults = 0;
	assert_int_equal(engine_run(e, next_once, keep, NULL, &done), 0);
	assert_int_equal(nresults, 1);
	engine_free(e);
}

static void
scan_port(const struct probe_module *m, uint16_t port, uint64_t timeout_ns)
{
	scan_port_arg(m, port, timeout_ns, NULL);
}

static void
test_udp_matching_reply(void **state)
{
	struct server s;
	(void)state;

	server_start(&s, REPLY_MATCH);
	scan_port(&probe_module_udp, s.port, 600 * NS_PER_MS);
	server_stop(&s);
	assert_int_equal(one.out[PROBE_SLOT_UDP].state, PROBE_OPEN);
	assert_int_equal(one.out[PROBE_SLOT_UDP].reason, PROBE_REASON_DNS_REPLY);
	assert_true(one.out[PROBE_SLOT_UDP].rtt_us >= 0);
	assert_int_equal(s.queries, 1); /* answered: no retransmission */
	assert_true(s.saw_edns);
	assert_true(one.dns.valid);
	assert_int_equal(one.dns.rcode, 5);
	assert_true(one.dns.aa);
	assert_true(one.dns.ra);
	assert_false(one.dns.tc);
}

/* A refusal without its question matches by ID: a valid reply, its rcode and nothing else
 * (the AA and RA bits it carries are not taken). */
static void
test_udp_refused_without_question(void **state)
{
	struct server s;
	(void)state;

	server_start(&s, REPLY_NO_QUESTION);
	scan_port(&probe_module_udp, s.port, 600 * NS_PER_MS);
	server_stop(&s);
	assert_int_equal(one.out[PROBE_SLOT_UDP].state, PROBE_OPEN);
	assert_int_equal(one.out[PROBE_SLOT_UDP].reason, PROBE_REASON_DNS_REPLY);
	assert_int_equal(s.queries, 1);
	assert_true(one.dns.valid);
	assert_int_equal(one.dns.rcode, 5);
	assert_false(one.dns.aa);
	assert_false(one.dns.ra);
	assert_false(one.dns.tc);
}

static void
check_untrusted(enum reply_mode mode, const char *error)
{
	struct server s;

	server_start(&s, mode);
	scan_port(&probe_module_udp, s.port, 300 * NS_PER_MS);
	server_stop(&s);
	/* a datagram from the probed address and port: open, unverified, no DNS facts */
	assert_int_equal(one.out[PROBE_SLOT_UDP].state, PROBE_OPEN);
	assert_int_equal(one.out[PROBE_SLOT_UDP].reason, PROBE_REASON_UDP_RESPONSE);
	assert_false(probe_open_verified(&one.out[PROBE_SLOT_UDP]));
	assert_true(one.out[PROBE_SLOT_UDP].rtt_us >= 0);
	assert_true(one.dns.present);
	assert_false(one.dns.valid);
	assert_string_equal(one.dns.error, error);
	/* anyone could have sent it: it stops nothing, every retransmission went out */
	assert_int_equal(s.queries, 3);
}

static void
test_udp_wrong_id(void **state)
{
	(void)state;
	check_untrusted(REPLY_WRONG_ID, dns_strerror(DNS_E_ID_MISMATCH));
}

static void
test_udp_wrong_question(void **state)
{
	(void)state;
	check_untrusted(REPLY_WRONG_QUESTION, dns_strerror(DNS_E_QUESTION_MISMATCH));
}

static void
test_udp_garbage(void **state)
{
	(void)state;
	check_untrusted(REPLY_GARBAGE, dns_strerror(DNS_E_SHORT));
}

/* A spoofer's junk and nothing else: open on its strength only (unverified), and it did
 * not cost the probe a single retransmission. */
static void
test_udp_junk_keeps_retrying(void **state)
{
	(void)state;
	check_untrusted(REPLY_JUNK, dns_strerror(DNS_E_SHORT));
}

/* Junk first, then the matching reply: the reply decides, whichever attempt it answers. */
static void
check_junk_then_match(int match_at)
{
	struct server s;

	server_start_at(&s, REPLY_JUNK_THEN_MATCH, match_at);
	scan_port(&probe_module_udp, s.port, 600 * NS_PER_MS);
	server_stop(&s);
	assert_int_equal(one.out[PROBE_SLOT_UDP].state, PROBE_OPEN);
	assert_int_equal(one.out[PROBE_SLOT_UDP].reason, PROBE_REASON_DNS_REPLY);
	assert_true(probe_open_verified(&one.out[PROBE_SLOT_UDP]));
	/* measured from the attempt answered, not from the first: well under a window's third */
	assert_true(one.out[PROBE_SLOT_UDP].rtt_us >= 0);
	assert_true(one.out[PROBE_SLOT_UDP].rtt_us < 150 * 1000);
	assert_true(one.dns.valid);
	assert_string_equal(one.dns.error, "");
	assert_int_equal(one.dns.rcode, 5);
	/* answered: no retransmission after the attempt the reply matched */
	assert_int_equal(s.queries, match_at);
}

static void
test_udp_junk_then_reply(void **state)
{
	(void)state;
	check_junk_then_match(1);
}

static void
test_udp_junk_then_reply_to_last_retry(void **state)
{
	(void)state;
	check_junk_then_match(3);
}

/* Junk, then the port closes: the ICMP port unreachable that the next retransmission
 * draws overrides the provisional "open" the junk left. */
static void
test_udp_junk_then_port_unreachable(void **state)
{
	struct server s;
	(void)state;

	server_start(&s, REPLY_JUNK_THEN_CLOSE);
	scan_port(&probe_module_udp, s.port, 600 * NS_PER_MS);
	server_stop(&s);
	assert_int_equal(one.out[PROBE_SLOT_UDP].state, PROBE_CLOSED);
	assert_int_equal(one.out[PROBE_SLOT_UDP].reason, PROBE_REASON_PORT_UNREACH);
	assert_false(one.dns.valid);
	assert_int_equal(s.queries, 1);
}

static void
test_udp_silence_is_filtered_after_all_retries(void **state)
{
	struct server s;
	(void)state;

	server_start(&s, REPLY_NONE);
	scan_port(&probe_module_udp, s.port, 300 * NS_PER_MS);
	server_stop(&s);
	assert_int_equal(one.out[PROBE_SLOT_UDP].state, PROBE_FILTERED);
	assert_int_equal(one.out[PROBE_SLOT_UDP].reason, PROBE_REASON_NO_RESPONSE);
	assert_true(one.out[PROBE_SLOT_UDP].rtt_us < 0);
	assert_false(one.dns.present);
	assert_int_equal(s.queries, 3);
}

static void
test_udp_closed_port(void **state)
{
	uint16_t port;
	int fd = bind_loopback(SOCK_DGRAM, &port);
	(void)state;

	close(fd); /* nothing listens there now: the kernel answers ICMP port unreachable */
	scan_port(&probe_module_udp, port, 500 * NS_PER_MS);
	assert_int_equal(one.out[PROBE_SLOT_UDP].state, PROBE_CLOSED);
	assert_int_equal(one.out[PROBE_SLOT_UDP].reason, PROBE_REASON_PORT_UNREACH);
}

/* The udp module's question to its caller: what it was asked, and the answer it gets. */
struct history {
	bool answered;
	int asked;
	char addr[NETADDR_STRLEN];
};

static bool
history_answered(void *arg, const struct net_addr *a)
{
	struct history *h = arg;

	h->asked++;
	net_addr_str(a, h->addr, sizeof(h->addr));
	return h->answered;
}

/* The port unreachable for the first attempt, a reply to a retransmission: a port with
 * verified replies before keeps waiting after the ICMP error (spoofable like a datagram)
 * and the reply wins; one without a history is closed by it. */
static void
check_icmp_then_reply(bool answered)
{
	struct history h = { .answered = answered };
	struct udp_module_arg ma = { history_answered, &h };
	struct server s;

	server_start(&s, REPLY_LATE_BIND);
	scan_port_arg(&probe_module_udp, s.port, 600 * NS_PER_MS, &ma);
	server_stop(&s);
	/* asked once, for the probed address, when the ICMP error came */
	assert_int_equal(h.asked, 1);
	assert_string_equal(h.addr, "127.0.0.1");
	if (!answered) {
		assert_int_equal(one.out[PROBE_SLOT_UDP].state, PROBE_CLOSED);
		assert_int_equal(one.out[PROBE_SLOT_UDP].reason, PROBE_REASON_PORT_UNREACH);
		assert_int_equal(s.queries, 0);
		return;
	}
	assert_int_equal(one.out[PROBE_SLOT_UDP].state, PROBE_OPEN);
	assert_int_equal(one.out[PROBE_SLOT_UDP].reason, PROBE_REASON_DNS_REPLY);
	assert_true(one.dns.valid);
	/* the retransmission at a third of the window, the first after the bind, answered */
	assert_int_equal(s.queries, 1);
	assert_true(one.out[PROBE_SLOT_UDP].rtt_us >= 0);
	assert_true(one.out[PROBE_SLOT_UDP].rtt_us < 150 * 1000);
}

static void
test_udp_icmp_ends_the_attempt_of_a_port_that_answered(void **state)
{
	(void)state;
	check_icmp_then_reply(true);
}

static void
test_udp_icmp_ends_the_probe_of_a_port_without_history(void **state)
{
	(void)state;
	check_icmp_then_reply(false);
}

/* A port that answered before and is closed now: every attempt goes out, and at the
 * deadline the ICMP error stands (closed, port unreachable). */
static void
test_udp_icmp_stands_at_the_deadline(void **state)
{
	struct history h = { .answered = true };
	struct udp_module_arg ma = { history_answered, &h };
	uint16_t port;
	int fd = bind_loopback(SOCK_DGRAM, &port);
	(void)state;

	close(fd);
	scan_port_arg(&probe_module_udp, port, 300 * NS_PER_MS, &ma);
	assert_int_equal(h.asked, 1);
	assert_int_equal(one.out[PROBE_SLOT_UDP].state, PROBE_CLOSED);
	assert_int_equal(one.out[PROBE_SLOT_UDP].reason, PROBE_REASON_PORT_UNREACH);
	assert_true(one.out[PROBE_SLOT_UDP].rtt_us >= 0);
}

static void
test_tcp_open_and_closed(void **state)
{
	uint16_t port;
	int fd = bind_loopback(SOCK_STREAM, &port);
	(void)state;

	assert_int_equal(listen(fd, 4), 0);
	scan_port(&probe_module_tcp, port, 500 * NS_PER_MS);
	assert_int_equal(one.out[PROBE_SLOT_TCP].state, PROBE_OPEN);
	assert_int_equal(one.out[PROBE_SLOT_TCP].reason, PROBE_REASON_SYN_ACK);
	assert_true(one.out[PROBE_SLOT_TCP].rtt_us >= 0);
	close(fd);
	scan_port(&probe_module_tcp, port, 500 * NS_PER_MS);
	assert_int_equal(one.out[PROBE_SLOT_TCP].state, PROBE_CLOSED);
	assert_int_equal(one.out[PROBE_SLOT_TCP].reason, PROBE_REASON_RESET);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_udp_matching_reply),
		cmocka_unit_test(test_udp_refused_without_question),
		cmocka_unit_test(test_udp_wrong_id),
		cmocka_unit_test(test_udp_wrong_question),
		cmocka_unit_test(test_udp_garbage),
		cmocka_unit_test(test_udp_junk_keeps_retrying),
		cmocka_unit_test(test_udp_junk_then_reply),
		cmocka_unit_test(test_udp_junk_then_reply_to_last_retry),
		cmocka_unit_test(test_udp_junk_then_port_unreachable),
		cmocka_unit_test(test_udp_silence_is_filtered_after_all_retries),
		cmocka_unit_test(test_udp_closed_port),
		cmocka_unit_test(test_udp_icmp_ends_the_attempt_of_a_port_that_answered),
		cmocka_unit_test(test_udp_icmp_ends_the_probe_of_a_port_without_history),
		cmocka_unit_test(test_udp_icmp_stands_at_the_deadline),
		cmocka_unit_test(test_tcp_open_and_closed),
	};
	return cmocka_run_group_tests_name("probes", tests, NULL, NULL);
}
