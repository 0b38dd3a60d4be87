/* audit: sockets bound to the scanned port on this host, read from procfs, and their owners. */
#include "agent/audit.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define ST_TCP_LISTEN 0x0A
#define ST_TCP_CLOSE 0x07 /* an unconnected UDP socket reports TCP_CLOSE */

struct listener_vec {
	struct audit_listener *v;
	size_t n, cap;
};

const char *
audit_exposure_text(enum audit_exposure e)
{
	switch (e) {
	case AUDIT_LOOPBACK_ONLY: return "loopback only";
	case AUDIT_WILDCARD: return "wildcard";
	case AUDIT_NON_LOOPBACK: return "non-loopback";
	}
	return "";
}

/*
 * /proc/net/{tcp,udp}{,6} print each 32-bit word of the address as %08X of the word's
 * host-order value. Storing the parsed value back in host order therefore restores the
 * network-order bytes on either endianness, without assuming x86.
 */
static int
decode_addr(const char *hex, struct net_addr *out)
{
	static const uint8_t v4_mapped[12] = { [10] = 0xff, [11] = 0xff };
	size_t len = strlen(hex);

	if (len != 8 && len != 32)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	for (size_t w = 0; w < len / 8; w++) {
		char word[9];
		char *end;
		uint32_t v;

		memcpy(word, hex + 8 * w, 8);
		word[8] = '\0';
		v = (uint32_t)strtoul(word, &end, 16);
		if (*end != '\0')
			return -EINVAL;
		memcpy(out->bytes + 4 * w, &v, 4);
	}
	out->family = len == 8 ? AF_INET : AF_INET6;
	/* A dual-stack socket bound to ::ffff:a.b.c.d is reachable exactly like a.b.c.d. */
	if (out->family == AF_INET6 && memcmp(out->bytes, v4_mapped, 12) == 0) {
		memmove(out->bytes, out->bytes + 12, 4);
		memset(out->bytes + 4, 0, 12);
		out->family = AF_INET;
	}
	return 0;
}

static int
vec_push(struct listener_vec *vec, const struct audit_listener *l)
{
	if (vec->n == vec->cap) {
		size_t cap = vec->cap ? vec->cap * 2 : 16;
		struct audit_listener *nv = realloc(vec->v, cap * sizeof(*nv));

		if (nv == NULL)
			return -ENOMEM;
		vec->v = nv;
		vec->cap = cap;
	}
	vec->v[vec->n++] = *l;
	return 0;
}

/*
 * Parse one socket table (tcp, tcp6, udp, udp6). A missing IPv6 table means IPv6 is
 * disabled and is not an error; a line that does not parse is, because silently
 * skipping it could hide a listener.
 */
static int
read_table(const char *procroot, const char *name, bool tcp, bool optional, uint16_t port,
	   struct listener_vec *vec, char *err, size_t errlen)
{
	char path[PATH_MAX];
	FILE *f = NULL;
	char *line = NULL;
	size_t linecap = 0;
	unsigned lineno = 0;
	int rc = 0;

	if ((size_t)snprintf(path, sizeof(path), "%s/net/%s", procroot, name) >= sizeof(path)) {
		snprintf(err, errlen, "%s/net/%s: path too long", procroot, name);
		return -ENAMETOOLONG;
	}
	f = fopen(path, "re");
	if (f == NULL) {
		rc = -errno;
		if (rc == -ENOENT && optional)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return rc;
	}
	while (getline(&line, &linecap, f) != -1) {
		char lhex[33], rhex[33];
		unsigned lport, rport, st;
		unsigned long inode;
		struct audit_listener l;
		struct net_addr remote;

		if (++lineno == 1)
			continue; /* column header */
		if (sscanf(line, " %*u: %32[0-9A-Fa-f]:%x %32[0-9A-Fa-f]:%x %x %*x:%*x %*x:%*x %*x"
				 " %*u %*d %lu",
			   lhex, &lport, rhex, &rport, &st, &inode) != 6 ||
		    lport > 0xffff || rport > 0xffff) {
			snprintf(err, errlen, "%s:%u: unexpected format", path, lineno);
			rc = -EINVAL;
			goto out;
		}
		memset(&l, 0, sizeof(l));
		if (decode_addr(lhex, &l.addr) != 0 || decode_addr(rhex, &remote) != 0) {
			snprintf(err, errlen, "%s:%u: bad address", path, lineno);
			rc = -EINVAL;
			goto out;
		}
		if (lport != port)
			continue;
		if (tcp && st != ST_TCP_LISTEN)
			continue;
		/* A connected UDP socket only talks to its peer; it is not a server. */
		if (!tcp && (st != ST_TCP_CLOSE || rport != 0 || !net_addr_is_any(&remote)))
			continue;
		l.port = (uint16_t)lport;
		l.tcp = tcp;
		l.inode = inode;
		l.pid = -1;
		if (net_addr_is_loopback(&l.addr))
			l.exposure = AUDIT_LOOPBACK_ONLY;
		else if (net_addr_is_any(&l.addr))
			l.exposure = AUDIT_WILDCARD;
		else
			l.exposure = AUDIT_NON_LOOPBACK;
		/* IPV6_V6ONLY is not visible in procfs: [::] may take IPv4 as well. */
		l.v6only_unknown = l.addr.family == AF_INET6 && l.exposure == AUDIT_WILDCARD;
		rc = vec_push(vec, &l);
		if (rc != 0) {
			snprintf(err, errlen, "%s: out of memory", path);
			goto out;
		}
	}
	if (ferror(f)) {
		rc = -EIO;
		snprintf(err, errlen, "%s: read error", path);
	}
out:
	free(line);
	fclose(f);
	return rc;
}

static bool
all_digits(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

static void
read_comm(const char *procroot, const char *pid, char *out, size_t outlen)
{
	char path[PATH_MAX];
	int fd;
	ssize_t k;

	out[0] = '\0';
	if ((size_t)snprintf(path, sizeof(path), "%s/%s/comm", procroot, pid) >= sizeof(path))
		return;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return; /* exited meanwhile, or not ours to read: the pid alone still helps */
	k = read(fd, out, outlen - 1);
	close(fd);
	if (k <= 0) {
		out[0] = '\0';
		return;
	}
	out[k] = '\0';
	out[strcspn(out, "\n")] = '\0';
}

/*
 * Match listener inodes against every process's fd symlinks ("socket:[INODE]"). Processes
 * come and go during the walk and other users' fd directories are unreadable without
 * privileges: such entries are skipped and their sockets keep pid -1. Procfs lists pids in
 * ascending order, so a socket shared after fork is credited to the lowest pid holding it.
 */
static void
find_owners(const char *procroot, struct audit_listener *ls, size_t n)
{
	DIR *proc;
	struct dirent *de;
	size_t missing = 0;

	for (size_t i = 0; i < n; i++)
		if (ls[i].inode != 0)
			missing++;
	if (missing == 0)
		return;
	proc = opendir(procroot);
	if (proc == NULL)
		return;
	while (missing > 0 && (de = readdir(proc)) != NULL) {
		char path[PATH_MAX];
		DIR *fds;
		struct dirent *fe;
		long pid;

		if (!all_digits(de->d_name) || strlen(de->d_name) > 9)
			continue;
		pid = strtol(de->d_name, NULL, 10);
		if ((size_t)snprintf(path, sizeof(path), "%s/%s/fd", procroot, de->d_name) >=
		    sizeof(path))
			continue;
		fds = opendir(path);
		if (fds == NULL)
			continue;
		while (missing > 0 && (fe = readdir(fds)) != NULL) {
			char link[64];
			unsigned long inode;
			int end;
			ssize_t k;

			if (fe->d_name[0] == '.')
				continue;
			k = readlinkat(dirfd(fds), fe->d_name, link, sizeof(link) - 1);
			if (k < 0)
				continue;
			link[k] = '\0';
			end = -1;
			if (sscanf(link, "socket:[%lu]%n", &inode, &end) != 1 || end != k)
				continue;
			for (size_t i = 0; i < n; i++) {
				if (ls[i].pid != -1 || ls[i].inode != inode || inode == 0)
					continue;
				ls[i].pid = (int)pid;
				read_comm(procroot, de->d_name, ls[i].process,
					  sizeof(ls[i].process));
				missing--;
			}
		}
		closedir(fds);
	}
	closedir(proc);
}

static int
same_socket_address(const struct audit_listener *a, const struct audit_listener *b)
{
	return a->tcp == b->tcp && a->port == b->port && net_addr_cmp(&a->addr, &b->addr) == 0;
}

/* Family, address, then tcp before udp: both protocols of one address sit together. */
static int
listener_cmp(const void *pa, const void *pb)
{
	const struct audit_listener *a = pa, *b = pb;
	int c = net_addr_cmp(&a->addr, &b->addr);

	if (c != 0)
		return c;
	if (a->tcp != b->tcp)
		return a->tcp ? -1 : 1;
	return (a->port > b->port) - (a->port < b->port);
}

/*
 * SO_REUSEPORT servers bind one socket per worker to the same address; people want one
 * line per address. The first entry in table order stays; if its owner is unknown it
 * takes the first known owner among its duplicates. Quadratic, but n is tiny.
 */
static size_t
dedup(struct audit_listener *ls, size_t n)
{
	size_t kept = 0;

	for (size_t i = 0; i < n; i++) {
		size_t j;

		for (j = 0; j < kept; j++)
			if (same_socket_address(&ls[j], &ls[i]))
				break;
		if (j < kept) {
			if (ls[j].pid == -1 && ls[i].pid != -1) {
				ls[j].pid = ls[i].pid;
				memcpy(ls[j].process, ls[i].process, sizeof(ls[j].process));
			}
			continue;
		}
		ls[kept++] = ls[i];
	}
	return kept;
}

int
audit_list_listeners(const char *procroot, uint16_t port, struct audit_listener **out,
		     size_t *count, char *err, size_t errlen)
{
	static const struct {
		const char *name;
		bool tcp, optional;
	} tables[] = {
		{ "tcp", true, false },
		{ "tcp6", true, true },
		{ "udp", false, false },
		{ "udp6", false, true },
	};
	struct listener_vec vec = { 0 };
	int rc = 0;

	*out = NULL;
	*count = 0;
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		rc = read_table(procroot, tables[i].name, tables[i].tcp, tables[i].optional, port,
				&vec, err, errlen);
		if (rc != 0)
			goto bad;
	}
	find_owners(procroot, vec.v, vec.n);
	vec.n = dedup(vec.v, vec.n);
	if (vec.n > 0)
		qsort(vec.v, vec.n, sizeof(*vec.v), listener_cmp);
	*out = vec.v;
	*count = vec.n;
	return 0;
bad:
	free(vec.v);
	return rc;
}

static bool
addr_listed(const struct net_addr *list, size_t n, const struct net_addr *a)
{
	for (size_t i = 0; i < n; i++)
		if (net_addr_cmp(&list[i], a) == 0)
			return true;
	return false;
}

size_t
audit_probe_addresses(const struct audit_listener *ls, size_t n, struct net_addr *out,
		      size_t max)
{
	static const char *const always[] = { "127.0.0.1", "::1" };
	size_t k = 0;

	for (size_t i = 0; i < 2 && k < max; i++)
		if (net_addr_parse(always[i], &out[k]) == 0)
			k++;
	/* Wildcard and non-loopback listeners are left out on purpose: probing them from
	 * here goes over lo and says nothing about what the firewall lets in. */
	for (size_t i = 0; i < n && k < max; i++) {
		if (!net_addr_is_loopback(&ls[i].addr) || addr_listed(out, k, &ls[i].addr))
			continue;
		out[k++] = ls[i].addr;
	}
	return k;
}
