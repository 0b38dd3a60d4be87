/* test_output: every output format written to memory and compared with what users rely on. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "agent/output.h"
#include "probes/dnscheck.h"

static const char *const labels[] = {
	"ns1.example.test",   /* 0 */
	"127.53.0.2",         /* 1: same as the address */
	"lab/filtered",       /* 2: slash stays unescaped */
	"udp, \"only\"",      /* 3: needs CSV quoting */
	"2001:db8::53",       /* 4 */
};

static const char *
label_of(void *arg, uint32_t i)
{
	(void)arg;
	return i < sizeof(labels) / sizeof(labels[0]) ? labels[i] : NULL;
}

static struct probe_result
rec(const char *addr, uint32_t target, uint64_t seq, enum probe_state ts, enum probe_reason tr,
    int64_t trtt, enum probe_state us, enum probe_reason ur, int64_t urtt)
{
	struct probe_result r;

	memset(&r, 0, sizeof(r));
	assert_int_equal(net_addr_parse(addr, &r.addr), 0);
	r.target_index = target;
	r.seq = seq;
	r.port = 53;
	r.out[PROBE_SLOT_TCP] = (struct probe_outcome){ ts, tr, trtt };
	r.out[PROBE_SLOT_UDP] = (struct probe_outcome){ us, ur, urtt };
	return r;
}

/* Six records handed over out of seq order, as the engine completes them. */
static size_t
sample_records(struct probe_result *r)
{
	/* seq 4: IPv6, tcp open, udp filtered */
	r[0] = rec("2001:db8::53", 4, 4, PROBE_OPEN, PROBE_REASON_SYN_ACK, 12000, PROBE_FILTERED,
		   PROBE_REASON_NO_RESPONSE, -1);
	/* seq 0: open/open, valid reply */
	r[1] = rec("127.53.0.9", 0, 0, PROBE_OPEN, PROBE_REASON_SYN_ACK, 215, PROBE_OPEN,
		   PROBE_REASON_DNS_REPLY, 300);
	r[1].dns = (struct probe_dns_facts){ .present = true, .valid = true, .rcode = 0,
					     .aa = false, .ra = true, .tc = false };
	/* seq 1: closed/closed */
	r[2] = rec("127.53.0.2", 1, 1, PROBE_CLOSED, PROBE_REASON_RESET, 120, PROBE_CLOSED,
		   PROBE_REASON_PORT_UNREACH, 95);
	/* seq 2: filtered/filtered, nothing came back */
	r[3] = rec("127.53.0.3", 2, 2, PROBE_FILTERED, PROBE_REASON_NO_RESPONSE, -1,
		   PROBE_FILTERED, PROBE_REASON_NO_RESPONSE, -1);
	/* seq 3: udp only, reply with a wrong id */
	r[4] = rec("127.53.0.4", 3, 3, PROBE_STATE_NONE, PROBE_REASON_NONE, -1, PROBE_OPEN,
		   PROBE_REASON_UDP_RESPONSE, 1234);
	r[4].dns.present = true;
	strcpy(r[4].dns.error, "transaction id mismatch");
	/* seq 5: valid reply REFUSED with aa and tc, labelled by address (no label fn hit) */
	r[5] = rec("127.53.0.1", 99, 5, PROBE_OPEN, PROBE_REASON_SYN_ACK, 5, PROBE_OPEN,
		   PROBE_REASON_DNS_REPLY, 4);
	r[5].dns = (struct probe_dns_facts){ .present = true, .valid = true, .rcode = 5,
					     .aa = true, .ra = false, .tc = true };
	return 6;
}

static const struct scan_summary sample_summary = {
	.audit = false,
	.started_wall_ns = 1700000000ull * 1000000000ull + 123456789ull,
	.elapsed_ns = 1234567890ull,
	.addresses = 6,
	.tcp_open = 3,
	.udp_open = 3,
	.hosts_open = 4,
	.port = 53,
	.timeout_ns = 800000000ull,
	.retries = 2,
	.rate_pps = 2000,
	.concurrency = 1024,
	.tcp = true,
	.udp = true,
};

/* Runs output_write into memory; the caller frees the returned text. */
static char *
render(enum output_format fmt, const struct output_data *d)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(output_write(f, fmt, d), 0);
	assert_int_equal(fclose(f), 0);
	assert_non_null(buf);
	return buf;
}

static void
test_format_parse(void **state)
{
	enum output_format f = OUTPUT_TABLE;

	(void)state;
	assert_int_equal(output_format_parse("json", &f), 0);
	assert_int_equal(f, OUTPUT_JSON);
	assert_int_equal(output_format_parse("jsonl", &f), 0);
	assert_int_equal(f, OUTPUT_JSONL);
	assert_int_equal(output_format_parse("csv", &f), 0);
	assert_int_equal(f, OUTPUT_CSV);
	assert_int_equal(output_format_parse("table", &f), 0);
	assert_int_equal(f, OUTPUT_TABLE);
	assert_int_equal(output_format_parse("JSON", &f), -EINVAL);
	assert_int_equal(output_format_parse("", &f), -EINVAL);
	assert_int_equal(output_format_parse("xml", &f), -EINVAL);
	assert_int_equal(f, OUTPUT_TABLE);
}

static void
test_jsonl_exact(void **state)
{
	struct probe_result r[8];
	struct output_data d = { .summary = &sample_summary, .records = r, .label = label_of };
	char *text;

	(void)state;
	d.nrecords = sample_records(r);
	text = render(OUTPUT_JSONL, &d);
	assert_string_equal(text,
		"{\"target\":\"ns1.example.test\",\"address\":\"127.53.0.9\",\"family\":4,\"port\":53,"
		"\"tcp\":{\"state\":\"open\",\"reason\":\"syn-ack\",\"rtt_ms\":0.22},"
		"\"udp\":{\"state\":\"open\",\"reason\":\"dns-reply\",\"rtt_ms\":0.30,"
		"\"verified\":true},"
		"\"dns\":{\"valid\":true,\"rcode\":\"NOERROR\",\"aa\":false,\"ra\":true,\"tc\":false}}\n"
		"{\"target\":\"127.53.0.2\",\"address\":\"127.53.0.2\",\"family\":4,\"port\":53,"
		"\"tcp\":{\"state\":\"closed\",\"reason\":\"reset\",\"rtt_ms\":0.12},"
		"\"udp\":{\"state\":\"closed\",\"reason\":\"port-unreach\",\"rtt_ms\":0.10},"
		"\"dns\":null}\n"
		"{\"target\":\"lab/filtered\",\"address\":\"127.53.0.3\",\"family\":4,\"port\":53,"
		"\"tcp\":{\"state\":\"filtered\",\"reason\":\"no-response\",\"rtt_ms\":null},"
		"\"udp\":{\"state\":\"filtered\",\"reason\":\"no-response\",\"rtt_ms\":null},"
		"\"dns\":null}\n"
		"{\"target\":\"udp, \\\"only\\\"\",\"address\":\"127.53.0.4\",\"family\":4,\"port\":53,"
		"\"udp\":{\"state\":\"open\",\"reason\":\"udp-response\",\"rtt_ms\":1.23,"
		"\"verified\":false},"
		"\"dns\":{\"valid\":false,\"error\":\"transaction id mismatch\"}}\n"
		"{\"target\":\"2001:db8::53\",\"address\":\"2001:db8::53\",\"family\":6,\"port\":53,"
		"\"tcp\":{\"state\":\"open\",\"reason\":\"syn-ack\",\"rtt_ms\":12.00},"
		"\"udp\":{\"state\":\"filtered\",\"reason\":\"no-response\",\"rtt_ms\":null},"
		"\"dns\":null}\n"
		"{\"target\":\"127.53.0.1\",\"address\":\"127.53.0.1\",\"family\":4,\"port\":53,"
		"\"tcp\":{\"state\":\"open\",\"reason\":\"syn-ack\",\"rtt_ms\":0.01},"
		"\"udp\":{\"state\":\"open\",\"reason\":\"dns-reply\",\"rtt_ms\":0.00,"
		"\"verified\":true},"
		"\"dns\":{\"valid\":true,\"rcode\":\"REFUSED\",\"aa\":true,\"ra\":false,\"tc\":true}}\n");
	free(text);
}

static void
test_jsonl_no_label_fn(void **state)
{
	struct probe_result r = rec("127.0.0.1", 0, 0, PROBE_CLOSED, PROBE_REASON_RESET, 40,
				    PROBE_STATE_NONE, PROBE_REASON_NONE, -1);
	struct output_data d = { .records = &r, .nrecords = 1 };
	char *text;

	(void)state;
	/* A UDP reply examined while the UDP slot is off cannot happen; dns stays null. */
	r.dns.present = true;
	text = render(OUTPUT_JSONL, &d);
	assert_string_equal(text,
		"{\"target\":\"127.0.0.1\",\"address\":\"127.0.0.1\",\"family\":4,\"port\":53,"
		"\"tcp\":{\"state\":\"closed\",\"reason\":\"reset\",\"rtt_ms\":0.04},\"dns\":null}\n");
	free(text);
}

static void
test_csv_exact(void **state)
{
	struct probe_result r[8];
	struct output_data d = { .summary = &sample_summary, .records = r, .label = label_of };
	char *text;

	(void)state;
	d.nrecords = sample_records(r);
	text = render(OUTPUT_CSV, &d);
	assert_string_equal(text,
		"target,address,family,port,tcp_state,tcp_reason,tcp_rtt_ms,udp_state,udp_reason,"
		"udp_rtt_ms,udp_verified,dns_valid,dns_rcode,dns_aa,dns_ra,dns_tc,dns_error\n"
		"ns1.example.test,127.53.0.9,4,53,open,syn-ack,0.22,open,dns-reply,0.30,true,"
		"true,NOERROR,false,true,false,\n"
		"127.53.0.2,127.53.0.2,4,53,closed,reset,0.12,closed,port-unreach,0.10,,,,,,,\n"
		"lab/filtered,127.53.0.3,4,53,filtered,no-response,,filtered,no-response,,,,,,,,\n"
		"\"udp, \"\"only\"\"\",127.53.0.4,4,53,,,,open,udp-response,1.23,false,"
		"false,,,,,transaction id mismatch\n"
		"2001:db8::53,2001:db8::53,6,53,open,syn-ack,12.00,filtered,no-response,,,,,,,,\n"
		"127.53.0.1,127.53.0.1,4,53,open,syn-ack,0.01,open,dns-reply,0.00,true,"
		"true,REFUSED,true,false,true,\n");
	free(text);
}

/* Records with the facts of the DNS checks: jsonl, csv and table. */
static void
test_checks(void **state)
{
	struct probe_result r[3];
	struct dnscheck_facts f[3];
	struct scan_summary sum = sample_summary;
	struct output_data d = { .summary = &sum, .records = r, .nrecords = 3 };
	char *text;

	(void)state;
	memset(f, 0, sizeof(f));
	/* an open resolver answering everything, AXFR allowed for one zone of two */
	r[0] = rec("127.53.0.2", 0, 0, PROBE_OPEN, PROBE_REASON_SYN_ACK, 100, PROBE_OPEN,
		   PROBE_REASON_DNS_REPLY, 200);
	r[0].dns = (struct probe_dns_facts){ .present = true, .valid = true, .ra = true };
	f[0].ran = f[0].known = DNSCHECK_ALL;
	f[0].recursion = true;
	f[0].bogus_known = true;
	strcpy(f[0].version, "9.18.1 \"x\"");
	strcpy(f[0].nsid, "ns1");
	f[0].amp_query_bytes = 40;
	f[0].amp_reply_bytes = 1260;
	f[0].amp_qtype = DNS_TYPE_DNSKEY;
	f[0].amp_zone = "a.test.";
	f[0].tcp_dns = true;
	f[0].naxfr = 2;
	f[0].axfr[0] = (struct dnscheck_axfr){ .zone = "a.test.", .state = DNSCHECK_AXFR_ALLOWED,
					       .complete = true, .records = 7 };
	f[0].axfr[1] = (struct dnscheck_axfr){ .zone = "b.test.", .state = DNSCHECK_AXFR_REFUSED,
					       .rcode = 9 };
	r[0].checks = &f[0];
	/* TCP only: no UDP reply, the TCP checks ran and one got no answer */
	r[1] = rec("127.53.0.3", 1, 1, PROBE_OPEN, PROBE_REASON_SYN_ACK, 100, PROBE_CLOSED,
		   PROBE_REASON_PORT_UNREACH, 200);
	f[1].ran = DNSCHECK_TCP;
	f[1].known = DNSCHECK_AXFR;
	f[1].naxfr = 1;
	f[1].axfr[0] = (struct dnscheck_axfr){ .zone = "a.test.", .state = DNSCHECK_AXFR_REFUSED,
					       .closed = true };
	r[1].checks = &f[1];
	/* closed: no checks */
	r[2] = rec("127.53.0.4", 2, 2, PROBE_CLOSED, PROBE_REASON_RESET, 100, PROBE_CLOSED,
		   PROBE_REASON_PORT_UNREACH, 200);
	sum.checks = DNSCHECK_ALL;
	sum.checked = 2;

	text = render(OUTPUT_JSONL, &d);
	assert_string_equal(text,
		"{\"target\":\"127.53.0.2\",\"address\":\"127.53.0.2\",\"family\":4,\"port\":53,"
		"\"tcp\":{\"state\":\"open\",\"reason\":\"syn-ack\",\"rtt_ms\":0.10},"
		"\"udp\":{\"state\":\"open\",\"reason\":\"dns-reply\",\"rtt_ms\":0.20,"
		"\"verified\":true},"
		"\"dns\":{\"valid\":true,\"rcode\":\"NOERROR\",\"aa\":false,\"ra\":true,\"tc\":false,"
		"\"recursion\":true,\"bogus\":false,\"version\":\"9.18.1 \\\"x\\\"\",\"hostname\":\"\","
		"\"nsid\":\"ns1\",\"axfr\":true,\"axfr_zones\":[{\"zone\":\"a.test.\",\"allowed\":true,"
		"\"records\":7,\"complete\":true},{\"zone\":\"b.test.\",\"allowed\":false,"
		"\"rcode\":\"NOTAUTH\"}],\"amplification\":31.50,\"amplification_query\":{\"qname\":"
		"\"a.test.\",\"qtype\":\"DNSKEY\",\"query_bytes\":40,\"response_bytes\":1260},"
		"\"tcp_dns\":true},\"severity\":\"critical\",\"findings\":[\"open-resolver\","
		"\"axfr-allowed\",\"amplifier\",\"version-disclosed\",\"identity-disclosed\"]}\n"
		"{\"target\":\"127.53.0.3\",\"address\":\"127.53.0.3\",\"family\":4,\"port\":53,"
		"\"tcp\":{\"state\":\"open\",\"reason\":\"syn-ack\",\"rtt_ms\":0.10},"
		"\"udp\":{\"state\":\"closed\",\"reason\":\"port-unreach\",\"rtt_ms\":0.20},"
		"\"dns\":{\"valid\":false,\"error\":\"no dns reply over udp\",\"axfr\":false,"
		"\"axfr_zones\":[{\"zone\":\"a.test.\",\"allowed\":false,\"closed\":true}],"
		"\"tcp_dns\":null},\"severity\":\"info\",\"findings\":[]}\n"
		"{\"target\":\"127.53.0.4\",\"address\":\"127.53.0.4\",\"family\":4,\"port\":53,"
		"\"tcp\":{\"state\":\"closed\",\"reason\":\"reset\",\"rtt_ms\":0.10},"
		"\"udp\":{\"state\":\"closed\",\"reason\":\"port-unreach\",\"rtt_ms\":0.20},"
		"\"dns\":null}\n");
	free(text);

	text = render(OUTPUT_CSV, &d);
	assert_non_null(strstr(text, "dns_error,severity,findings,recursion,version,axfr,"
				     "amplification,tcp_dns\n"));
	assert_non_null(strstr(text, ",critical,\"open-resolver,axfr-allowed,amplifier,"
				     "version-disclosed,identity-disclosed\",true,\"9.18.1 \"\"x\"\"\","
				     "true,31.50,true\n"));
	assert_non_null(strstr(text, ",info,,,,false,,\n"));
	assert_non_null(strstr(text, "port-unreach,0.20,,,,,,,,,,,,,,\n"));
	free(text);

	text = render(OUTPUT_TABLE, &d);
	assert_non_null(strstr(text, "CHECKS\n"));
	assert_non_null(strstr(text, "critical: open-resolver, axfr-allowed, amplifier 31.50x, "
				     "version-disclosed \"9.18.1 \"x\"\", identity-disclosed\n"));
	assert_non_null(strstr(text, "  info\n"));
	assert_non_null(strstr(text, "DNS checks ran on 2 addresses."));
	free(text);

	/* the summary names the checks */
	text = render(OUTPUT_JSON, &d);
	assert_non_null(strstr(text, "\"checks\":[\"recursion\",\"version\",\"axfr\","
				     "\"amplification\",\"tcp-dns\"],\"checked\":2"));
	free(text);

	/* without checks asked for, a plain scan keeps its CSV and table shape */
	sum.checks = 0;
	text = render(OUTPUT_TABLE, &d);
	assert_null(strstr(text, "CHECKS"));
	free(text);
}

static void
test_csv_quotes_newline(void **state)
{
	struct probe_result r = rec("127.0.0.1", 0, 0, PROBE_OPEN, PROBE_REASON_SYN_ACK, 1000,
				    PROBE_OPEN, PROBE_REASON_DNS_REPLY, 2000);
	struct output_data d = { .records = &r, .nrecords = 1 };
	char *text;

	(void)state;
	r.dns.present = true;
	strcpy(r.dns.error, "bad, \"odd\"\nreply");
	text = render(OUTPUT_CSV, &d);
	assert_non_null(strstr(text, ",open,dns-reply,2.00,true,false,,,,,"
				     "\"bad, \"\"odd\"\"\nreply\"\n"));
	free(text);
}

static struct json_object *
jget(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	assert_true(json_object_object_get_ex(o, key, &v));
	return v;
}

static void
test_json_document(void **state)
{
	struct probe_result r[8];
	struct output_data d = { .summary = &sample_summary, .records = r, .label = label_of };
	struct json_object *root, *scan, *results, *x;
	char *text;

	(void)state;
	d.nrecords = sample_records(r);
	text = render(OUTPUT_JSON, &d);
	/* One document on one line. */
	assert_non_null(strchr(text, '\n'));
	assert_int_equal(strchr(text, '\n')[1], '\0');
	root = json_tokener_parse(text);
	assert_non_null(root);
	assert_false(json_object_object_get_ex(root, "listeners", NULL));

	scan = jget(root, "scan");
	assert_string_equal(json_object_get_string(jget(scan, "started")), "2023-11-14T22:13:20Z");
	assert_true(json_object_is_type(jget(scan, "elapsed_s"), json_type_double));
	assert_true(json_object_get_double(jget(scan, "elapsed_s")) == 1.23);
	assert_string_equal(json_object_get_string(jget(scan, "mode")), "scan");
	assert_int_equal(json_object_get_int(jget(scan, "port")), 53);
	assert_true(json_object_get_boolean(jget(scan, "tcp")));
	assert_true(json_object_get_boolean(jget(scan, "udp")));
	assert_int_equal(json_object_get_int(jget(scan, "timeout_ms")), 800);
	assert_int_equal(json_object_get_int(jget(scan, "retries")), 2);
	assert_int_equal(json_object_get_int(jget(scan, "rate")), 2000);
	assert_int_equal(json_object_get_int(jget(scan, "concurrency")), 1024);
	assert_int_equal(json_object_get_int(jget(scan, "addresses")), 6);
	assert_int_equal(json_object_get_int(jget(scan, "hosts_open")), 4);
	assert_int_equal(json_object_get_int(jget(scan, "tcp_open")), 3);
	assert_int_equal(json_object_get_int(jget(scan, "udp_open")), 3);
	assert_true(json_object_is_type(jget(scan, "interrupted"), json_type_boolean));
	assert_false(json_object_get_boolean(jget(scan, "interrupted")));

	results = jget(root, "results");
	assert_int_equal(json_object_array_length(results), 6);
	/* seq order */
	assert_string_equal(json_object_get_string(jget(json_object_array_get_idx(results, 0),
							 "address")), "127.53.0.9");
	assert_string_equal(json_object_get_string(jget(json_object_array_get_idx(results, 4),
							 "address")), "2001:db8::53");
	x = json_object_array_get_idx(results, 0);
	assert_true(json_object_get_double(jget(jget(x, "tcp"), "rtt_ms")) == 0.22);
	assert_string_equal(json_object_get_string(jget(jget(x, "dns"), "rcode")), "NOERROR");
	/* "verified" on an open udp state only: the reason says which */
	assert_true(json_object_get_boolean(jget(jget(x, "udp"), "verified")));
	assert_false(json_object_object_get_ex(jget(x, "tcp"), "verified", NULL));
	x = json_object_array_get_idx(results, 2);
	assert_null(jget(jget(x, "udp"), "rtt_ms"));
	assert_false(json_object_object_get_ex(jget(x, "udp"), "verified", NULL));
	assert_null(jget(x, "dns"));
	x = json_object_array_get_idx(results, 3);
	assert_true(json_object_is_type(jget(jget(x, "udp"), "verified"), json_type_boolean));
	assert_false(json_object_get_boolean(jget(jget(x, "udp"), "verified")));
	assert_false(json_object_object_get_ex(x, "tcp", NULL));
	assert_false(json_object_get_boolean(jget(jget(x, "dns"), "valid")));
	assert_string_equal(json_object_get_string(jget(jget(x, "dns"), "error")),
			    "transaction id mismatch");
	assert_int_equal(json_object_get_int(jget(json_object_array_get_idx(results, 4),
						  "family")), 6);
	json_object_put(root);
	free(text);
}

static const struct audit_listener *
sample_listeners(size_t *n)
{
	static struct audit_listener ls[4];

	memset(ls, 0, sizeof(ls));
	assert_int_equal(net_addr_parse("0.0.0.0", &ls[0].addr), 0);
	ls[0].port = 53;
	ls[0].tcp = false;
	ls[0].exposure = AUDIT_WILDCARD;
	ls[0].pid = 812;
	strcpy(ls[0].process, "dnsmasq");
	assert_int_equal(net_addr_parse("127.0.0.53", &ls[1].addr), 0);
	ls[1].port = 53;
	ls[1].tcp = true;
	ls[1].exposure = AUDIT_LOOPBACK_ONLY;
	ls[1].pid = 101;
	strcpy(ls[1].process, "systemd-\033[2Jresolve"); /* escape sequence must not pass */
	assert_int_equal(net_addr_parse("192.0.2.10", &ls[2].addr), 0);
	ls[2].port = 53;
	ls[2].tcp = true;
	ls[2].exposure = AUDIT_NON_LOOPBACK;
	ls[2].pid = -1;
	assert_int_equal(net_addr_parse("::", &ls[3].addr), 0);
	ls[3].port = 53;
	ls[3].tcp = false;
	ls[3].exposure = AUDIT_WILDCARD;
	ls[3].pid = 4242;
	*n = 4;
	return ls;
}

static void
test_json_audit_listeners(void **state)
{
	struct scan_summary s = sample_summary;
	struct probe_result r = rec("127.0.0.1", 0, 0, PROBE_CLOSED, PROBE_REASON_RESET, 40,
				    PROBE_CLOSED, PROBE_REASON_PORT_UNREACH, 50);
	struct output_data d = { .summary = &s, .records = &r, .nrecords = 1 };
	struct json_object *root, *ls, *x;
	char *text;

	(void)state;
	s.audit = true;
	d.listeners = sample_listeners(&d.nlisteners);
	text = render(OUTPUT_JSON, &d);
	root = json_tokener_parse(text);
	assert_non_null(root);
	assert_string_equal(json_object_get_string(jget(jget(root, "scan"), "mode")), "audit");
	ls = jget(root, "listeners");
	assert_int_equal(json_object_array_length(ls), 4);
	x = json_object_array_get_idx(ls, 0);
	assert_string_equal(json_object_to_json_string_ext(x, JSON_C_TO_STRING_PLAIN),
			    "{\"protocol\":\"udp\",\"address\":\"0.0.0.0\",\"port\":53,"
			    "\"exposure\":\"wildcard\",\"reachable_unless_firewalled\":true,"
			    "\"pid\":812,\"process\":\"dnsmasq\"}");
	x = json_object_array_get_idx(ls, 1);
	assert_string_equal(json_object_get_string(jget(x, "exposure")), "loopback-only");
	assert_false(json_object_get_boolean(jget(x, "reachable_unless_firewalled")));
	x = json_object_array_get_idx(ls, 2);
	assert_string_equal(json_object_get_string(jget(x, "exposure")), "non-loopback");
	assert_true(json_object_get_boolean(jget(x, "reachable_unless_firewalled")));
	assert_null(jget(x, "pid"));
	assert_null(jget(x, "process"));
	x = json_object_array_get_idx(ls, 3);
	assert_int_equal(json_object_get_int(jget(x, "pid")), 4242);
	assert_null(jget(x, "process"));
	json_object_put(root);
	free(text);

	/* jsonl and csv carry records only. */
	text = render(OUTPUT_JSONL, &d);
	assert_null(strstr(text, "listeners"));
	assert_null(strstr(text, "dnsmasq"));
	free(text);
	text = render(OUTPUT_CSV, &d);
	assert_null(strstr(text, "dnsmasq"));
	free(text);
}

/* Split into lines (modifies text); returns the count. */
static size_t
split_lines(char *text, char **lines, size_t max)
{
	size_t n = 0;
	char *save = NULL;

	for (char *l = strtok_r(text, "\n", &save); l != NULL && n < max;
	     l = strtok_r(NULL, "\n", &save))
		lines[n++] = l;
	return n;
}

static size_t
column_of(const char *line, const char *word)
{
	const char *p = strstr(line, word);

	assert_non_null(p);
	return (size_t)(p - line);
}

static void
test_table_order_and_alignment(void **state)
{
	struct probe_result r[8];
	struct output_data d = { .summary = &sample_summary, .records = r, .label = label_of };
	char *text, *lines[32];
	size_t n, tcp_col, udp_col, dns_col, target_col;

	(void)state;
	d.nrecords = sample_records(r);
	text = render(OUTPUT_TABLE, &d);
	n = split_lines(text, lines, 32);
	assert_int_equal(n, 9); /* header, 6 rows, the note on "open?", summary */
	assert_string_equal(lines[0],
			    "ADDRESS       TARGET            TCP                   UDP                   DNS");
	/* open hosts in address order, then the rest in address order */
	assert_int_equal(strncmp(lines[1], "127.53.0.1 ", 11), 0);
	assert_int_equal(strncmp(lines[2], "127.53.0.4 ", 11), 0);
	assert_int_equal(strncmp(lines[3], "127.53.0.9 ", 11), 0);
	assert_int_equal(strncmp(lines[4], "2001:db8::53 ", 13), 0);
	assert_int_equal(strncmp(lines[5], "127.53.0.2 ", 11), 0);
	assert_int_equal(strncmp(lines[6], "127.53.0.3 ", 11), 0);
	target_col = column_of(lines[0], "TARGET");
	tcp_col = column_of(lines[0], "TCP");
	udp_col = column_of(lines[0], "UDP");
	dns_col = column_of(lines[0], "DNS");
	for (size_t i = 1; i <= 6; i++) {
		assert_true(strlen(lines[i]) > dns_col);
		/* every column starts right after a run of blanks, at the header's column */
		assert_true(lines[i][tcp_col] != ' ' && lines[i][tcp_col - 1] == ' ' &&
			    lines[i][tcp_col - 2] == ' ');
		assert_true(lines[i][udp_col] != ' ' && lines[i][udp_col - 1] == ' ');
		assert_true(lines[i][dns_col] != ' ' && lines[i][dns_col - 1] == ' ');
		assert_true(lines[i][target_col] != ' ' && lines[i][target_col - 1] == ' ');
		/* no trailing blanks */
		assert_true(lines[i][strlen(lines[i]) - 1] != ' ');
	}
	assert_string_equal(lines[1] + tcp_col, "open syn-ack          open dns-reply        REFUSED aa tc");
	assert_string_equal(lines[2] + target_col,
			    "udp, \"only\"       -                     open? udp-response    "
			    "invalid: transaction id mismatch");
	assert_string_equal(lines[3] + dns_col, "NOERROR ra");
	assert_string_equal(lines[5] + tcp_col, "closed reset          closed port-unreach   -");
	assert_string_equal(lines[6] + target_col,
			    "lab/filtered      filtered no-response  filtered no-response  -");
	/* the mark explained once, under the rows that carry it */
	assert_string_equal(lines[7],
			    "open? = unverified: a datagram came back from the port, but no DNS "
			    "reply matching the query (its source may be forged)");
	assert_string_equal(lines[8],
			    "Scanned 6 addresses (port 53) in 1.2s: 4 open (tcp 3, udp 3).");
	free(text);
}

static void
test_table_target_column_omitted(void **state)
{
	struct probe_result r[2];
	struct output_data d = { .records = r, .nrecords = 2 };
	struct scan_summary s = sample_summary;
	char *text;

	(void)state;
	s.addresses = 2;
	s.hosts_open = 1;
	s.tcp_open = 1;
	s.udp_open = 0;
	s.udp = false;
	s.interrupted = true;
	d.summary = &s;
	r[0] = rec("10.0.0.2", 0, 0, PROBE_CLOSED, PROBE_REASON_RESET, 10, PROBE_STATE_NONE,
		   PROBE_REASON_NONE, -1);
	r[1] = rec("10.0.0.10", 0, 1, PROBE_OPEN, PROBE_REASON_SYN_ACK, 10, PROBE_STATE_NONE,
		   PROBE_REASON_NONE, -1);
	text = render(OUTPUT_TABLE, &d);
	assert_string_equal(text,
			    "ADDRESS    TCP\n"
			    "10.0.0.10  open syn-ack\n"
			    "10.0.0.2   closed reset\n"
			    "Scanned 2 addresses (port 53) in 1.2s: 1 open (tcp 1). "
			    "Interrupted: the results are partial.\n");
	free(text);
}

static void
test_table_collapse(void **state)
{
	struct probe_result r[60];
	struct scan_summary s = sample_summary;
	struct output_data d = { .summary = &s, .records = r, .nrecords = 60 };
	char *text, *lines[80];
	size_t n;

	(void)state;
	for (unsigned i = 0; i < 60; i++) {
		char a[32];

		snprintf(a, sizeof(a), "10.0.%u.%u", i / 10, i % 10);
		if (i == 7 || i == 30 || i == 55)
			r[i] = rec(a, 0, i, PROBE_FILTERED, PROBE_REASON_NO_RESPONSE, -1, PROBE_OPEN,
				   PROBE_REASON_DNS_REPLY, 100);
		else if (i % 3 == 0)
			r[i] = rec(a, 0, i, PROBE_FILTERED, PROBE_REASON_NO_RESPONSE, -1,
				   PROBE_FILTERED, PROBE_REASON_NO_RESPONSE, -1);
		else
			r[i] = rec(a, 0, i, PROBE_CLOSED, PROBE_REASON_RESET, 50, PROBE_FILTERED,
				   PROBE_REASON_NO_RESPONSE, -1);
	}
	s.addresses = 60;
	s.hosts_open = 3;
	s.tcp_open = 0;
	s.udp_open = 3;
	text = render(OUTPUT_TABLE, &d);
	n = split_lines(text, lines, 80);
	assert_int_equal(n, 6);
	assert_int_equal(strncmp(lines[0], "ADDRESS", 7), 0);
	assert_int_equal(strncmp(lines[1], "10.0.0.7 ", 9), 0);
	assert_int_equal(strncmp(lines[2], "10.0.3.0 ", 9), 0);
	assert_int_equal(strncmp(lines[3], "10.0.5.5 ", 9), 0);
	/* 57 hidden: i % 3 == 0 gives 20, minus 30 which is open: 19 filtered, 38 closed */
	assert_string_equal(lines[4],
			    "... 57 addresses not shown: 38 closed, 19 filtered "
			    "(use --format jsonl for all)");
	assert_string_equal(lines[5],
			    "Scanned 60 addresses (port 53) in 1.2s: 3 open (tcp 0, udp 3).");
	free(text);

	/* 50 records: no collapsing. */
	d.nrecords = 50;
	text = render(OUTPUT_TABLE, &d);
	n = split_lines(text, lines, 80);
	assert_int_equal(n, 52);
	assert_null(strstr(text, "not shown"));
	free(text);
}

static void
test_table_audit_section(void **state)
{
	struct scan_summary s = sample_summary;
	struct probe_result r[2];
	struct output_data d = { .summary = &s, .records = r, .nrecords = 2 };
	char *text;

	(void)state;
	s.audit = true;
	s.addresses = 2;
	s.hosts_open = 0;
	s.tcp_open = 0;
	s.udp_open = 0;
	s.elapsed_ns = 850000000ull;
	r[0] = rec("127.0.0.1", 0, 0, PROBE_CLOSED, PROBE_REASON_RESET, 40, PROBE_CLOSED,
		   PROBE_REASON_PORT_UNREACH, 50);
	r[1] = rec("::1", 1, 1, PROBE_CLOSED, PROBE_REASON_RESET, 40, PROBE_CLOSED,
		   PROBE_REASON_PORT_UNREACH, 50);
	d.listeners = sample_listeners(&d.nlisteners);
	text = render(OUTPUT_TABLE, &d);
	assert_string_equal(text,
		"ADDRESS    TCP           UDP                  DNS\n"
		"127.0.0.1  closed reset  closed port-unreach  -\n"
		"::1        closed reset  closed port-unreach  -\n"
		"Scanned 2 addresses (port 53) in 850ms: 0 open (tcp 0, udp 0).\n"
		"\n"
		"Sockets bound to port 53 on this host:\n"
		"  udp  0.0.0.0:53     dnsmasq[812]              wildcard: reachable unless firewalled\n"
		"  tcp  127.0.0.53:53  systemd-?[2Jresolve[101]  loopback only\n"
		"  tcp  192.0.2.10:53  ?                         non-loopback: reachable unless firewalled\n"
		"  udp  [::]:53        ?[4242]                   wildcard: reachable unless firewalled\n"
		"From this host, traffic to its own addresses runs over lo and bypasses the firewall; "
		"check what the outside sees from another host: watch53 scan <public address>\n");
	free(text);

	d.nlisteners = 0;
	d.listeners = NULL;
	text = render(OUTPUT_TABLE, &d);
	assert_non_null(strstr(text, "udp 0).\n\nNo socket is bound to port 53 on this host.\n"));
	assert_null(strstr(text, "Sockets bound"));
	assert_null(strstr(text, "bypasses"));
	free(text);
}

static void
test_table_empty(void **state)
{
	struct scan_summary s = sample_summary;
	struct output_data d = { .summary = &s };
	char *text;

	(void)state;
	s.addresses = 0;
	s.hosts_open = s.tcp_open = s.udp_open = 0;
	s.elapsed_ns = 0;
	text = render(OUTPUT_TABLE, &d);
	assert_string_equal(text, "Scanned 0 addresses (port 53) in 0ms: 0 open (tcp 0, udp 0).\n");
	free(text);
	text = render(OUTPUT_CSV, &d);
	assert_string_equal(text, "target,address,family,port,tcp_state,tcp_reason,tcp_rtt_ms,"
				  "udp_state,udp_reason,udp_rtt_ms,udp_verified,dns_valid,dns_rcode,"
				  "dns_aa,dns_ra,dns_tc,dns_error\n");
	free(text);
	text = render(OUTPUT_JSONL, &d);
	assert_string_equal(text, "");
	free(text);
}

static void
test_write_error(void **state)
{
	struct probe_result r[8];
	struct output_data d = { .summary = &sample_summary, .records = r, .label = label_of };
	FILE *f = fopen("/dev/full", "w");

	(void)state;
	if (f == NULL)
		skip();
	d.nrecords = sample_records(r);
	assert_int_equal(output_write(f, OUTPUT_JSONL, &d), -EIO);
	fclose(f);
}

static char *
progress_text(const struct engine_stats *st, uint64_t total, bool clear)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	if (clear)
		output_progress_clear(f);
	else
		output_progress(f, st, total);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static void
test_progress(void **state)
{
	struct engine_stats st = { .started = 1300, .finished = 1234, .open = 3, .packets = 16246,
				   .elapsed_ns = 2000000000ull, .in_flight = 66 };
	char *text;

	(void)state;
	/* 2862 left at 617/s: 4.6s -> 5s */
	text = progress_text(&st, 4096, false);
	assert_string_equal(text, "\r[watch53] 1234/4096 addresses  3 open  8123 pkt/s  ETA 5s\033[K");
	free(text);

	st.finished = 10;
	st.elapsed_ns = 10000000000ull;
	text = progress_text(&st, 4096, false);
	assert_string_equal(text,
			    "\r[watch53] 10/4096 addresses  3 open  1625 pkt/s  ETA 1h08m\033[K");
	free(text);

	st.finished = 0;
	st.packets = 0;
	st.elapsed_ns = 0;
	text = progress_text(&st, 4096, false);
	assert_string_equal(text, "\r[watch53] 0/4096 addresses  3 open  0 pkt/s\033[K");
	free(text);

	st.finished = 4096;
	st.packets = 9000;
	st.elapsed_ns = 3000000000ull;
	text = progress_text(&st, 4096, false);
	assert_string_equal(text, "\r[watch53] 4096/4096 addresses  3 open  3000 pkt/s\033[K");
	free(text);

	text = progress_text(&st, 4096, true);
	assert_string_equal(text, "\r\033[K");
	free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_parse),
		cmocka_unit_test(test_jsonl_exact),
		cmocka_unit_test(test_jsonl_no_label_fn),
		cmocka_unit_test(test_csv_exact),
		cmocka_unit_test(test_checks),
		cmocka_unit_test(test_csv_quotes_newline),
		cmocka_unit_test(test_json_document),
		cmocka_unit_test(test_json_audit_listeners),
		cmocka_unit_test(test_table_order_and_alignment),
		cmocka_unit_test(test_table_target_column_omitted),
		cmocka_unit_test(test_table_collapse),
		cmocka_unit_test(test_table_audit_section),
		cmocka_unit_test(test_table_empty),
		cmocka_unit_test(test_write_error),
		cmocka_unit_test(test_progress),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
