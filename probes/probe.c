/* probe: names of states, reasons and slots; what counts as verified. */
#include "probes/probe.h"

const char *
probe_state_name(enum probe_state s)
{
	switch (s) {
	case PROBE_OPEN: return "open";
	case PROBE_CLOSED: return "closed";
	case PROBE_FILTERED: return "filtered";
	case PROBE_STATE_NONE: break;
	}
	return "";
}

const char *
probe_reason_name(enum probe_reason r)
{
	switch (r) {
	case PROBE_REASON_SYN_ACK: return "syn-ack";
	case PROBE_REASON_RESET: return "reset";
	case PROBE_REASON_DNS_REPLY: return "dns-reply";
	case PROBE_REASON_UDP_RESPONSE: return "udp-response";
	case PROBE_REASON_PORT_UNREACH: return "port-unreach";
	case PROBE_REASON_HOST_UNREACH: return "host-unreach";
	case PROBE_REASON_NET_UNREACH: return "net-unreach";
	case PROBE_REASON_PROTO_UNREACH: return "proto-unreach";
	case PROBE_REASON_ADMIN_PROHIBITED: return "admin-prohibited";
	case PROBE_REASON_NO_RESPONSE: return "no-response";
	case PROBE_REASON_ERROR: return "error";
	case PROBE_REASON_NONE: break;
	}
	return "";
}

const char *
probe_slot_name(enum probe_slot s)
{
	return s == PROBE_SLOT_TCP ? "tcp" : "udp";
}

bool
probe_open_verified(const struct probe_outcome *o)
{
	return o->state == PROBE_OPEN && o->reason != PROBE_REASON_UDP_RESPONSE;
}
