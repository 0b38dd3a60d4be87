/* scan_syn: --syn and its options, and the engine set-up of the SYN probe module. */
#define _GNU_SOURCE
#include "agent/scan_syn.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>

#include "common/log.h"
#include "probes/route.h"

int
scan_syn_option(struct scan_syn *s, const char *name, const char *arg, char *err,
		size_t errlen)
{
	struct net_addr a;

	if (strcmp(name, "syn") == 0) {
		s->on = true;
		return 0;
	}
	if (strcmp(name, "interface") == 0) {
		if (arg[0] == '\0' || strlen(arg) >= 16 || strchr(arg, '/') != NULL) {
			snprintf(err, errlen, "--interface: '%s' is not an interface name", arg);
			return -EINVAL;
		}
		s->iface = arg;
		return 0;
	}
	if (strcmp(name, "source-ip") == 0) {
		if (net_addr_parse(arg, &a) < 0) {
			snprintf(err, errlen, "--source-ip: '%s' is not an IP address", arg);
			return -EINVAL;
		}
		s->src[a.family == AF_INET6] = a;
		s->have_src[a.family == AF_INET6] = true;
		return 0;
	}
	if (strcmp(name, "router-mac") == 0) {
		if (route_parse_mac(arg, s->router_mac) < 0) {
			snprintf(err, errlen, "--router-mac: '%s' is not a MAC address "
				 "(00:11:22:33:44:55)", arg);
			return -EINVAL;
		}
		s->have_router_mac = true;
		return 0;
	}
	return -ENOENT;
}

void
scan_syn_hints(struct scan_syn *s, const struct target_iter *it)
{
	struct target_iter copy = *it;
	struct net_addr a;

	while (!(s->have_hint[0] && s->have_hint[1]) &&
	       targets_iter_next(&copy, &a, NULL) == 1) {
		int fi = a.family == AF_INET6;

		if (!s->have_hint[fi]) {
			s->hint[fi] = a;
			s->have_hint[fi] = true;
		}
	}
}

void
scan_syn_hints_array(struct scan_syn *s, const struct net_addr *a, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int fi = a[i].family == AF_INET6;

		if (!s->have_hint[fi]) {
			s->hint[fi] = a[i];
			s->have_hint[fi] = true;
		}
	}
}

int
scan_syn_setup(const struct scan_syn *s, struct engine_config *ec, struct syn_scanner **out,
	       char *err, size_t errlen)
{
	struct syn_config sc;
	struct syn_scanner *scanner;
	unsigned m;
	int rc;

	*out = NULL;
	memset(&sc, 0, sizeof(sc));
	sc.port = ec->opts.port;
	sc.max_attempts = ec->retries + 1;
	sc.concurrency = ec->concurrency;
	for (int fi = 0; fi < 2; fi++) {
		sc.hint[fi] = s->hint[fi];
		sc.have_hint[fi] = s->have_hint[fi];
		sc.src[fi] = s->src[fi];
		sc.have_src[fi] = s->have_src[fi];
	}
	sc.iface = s->iface;
	memcpy(sc.router_mac, s->router_mac, 6);
	sc.have_router_mac = s->have_router_mac;
	for (m = 0; m < ec->nmodules; m++)
		if (ec->modules[m] == probe_module_find("syn"))
			break;
	if (m == ec->nmodules)
		return 0; /* TCP is not probed: nothing to do */
	if (ec->nshared >= ENGINE_MAX_SHARED) {
		snprintf(err, errlen, "SYN mode: no room for its capture in the engine");
		return -EINVAL;
	}
	rc = syn_new(&sc, s->io, &scanner, err, errlen);
	if (rc == -EPERM) {
		snprintf(err, errlen, "%s", SYN_EPERM_HINT);
		return -EPERM;
	}
	if (rc < 0)
		return -EIO;
	ec->module_arg[m] = scanner;
	ec->shared[ec->nshared++] = (struct engine_shared_fd){
		.fd = syn_fd(scanner), .events = EPOLLIN, .on_event = syn_on_readable,
		.arg = scanner,
	};
	for (int fi = 0; fi < 2; fi++)
		if (sc.have_hint[fi]) {
			char how[256];

			syn_describe(scanner, fi ? AF_INET6 : AF_INET, how, sizeof(how));
			log_info("SYN mode, IPv%c: %s", fi ? '6' : '4', how);
		}
	*out = scanner;
	return 0;
}

void
scan_syn_report(const struct syn_scanner *sc)
{
	struct syn_stats st;

	if (sc == NULL)
		return;
	syn_get_stats(sc, &st);
	log_info("SYN mode: %llu SYNs sent, %llu answers, %llu other packets captured, %llu "
		 "RSTs sent", (unsigned long long)st.sent, (unsigned long long)st.answers,
		 (unsigned long long)st.invalid, (unsigned long long)st.rst_sent);
	if (st.send_errors > 0)
		log_warnx("SYN mode: %llu packets could not be sent (the interface queue was "
			  "full): lower --rate if ports show filtered", (unsigned long long)st.send_errors);
}
