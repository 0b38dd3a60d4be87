/* cmd_diff: `watch53 diff OLD NEW` — what changed between two saved scans (scandiff.h). */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "agent/cli.h"
#include "agent/scandiff.h"
#include "common/util.h"

void
cmd_diff_help(FILE *f)
{
	fprintf(f,
"usage: watch53 diff [--format table|jsonl] OLD NEW\n"
"\n"
"What changed between two saved scans (`watch53 scan --format jsonl` or `--format\n"
"json`), as nmap's ndiff does for nmap's XML: per address and port, a protocol that\n"
"opened or closed (or went between closed and filtered), UDP evidence that became\n"
"verified or not, every DNS fact that changed (recursion, version, AXFR, ...), the\n"
"severity and the findings; addresses only in NEW are added, only in OLD removed.\n"
"Round-trip times are no change. For people who keep scan files instead of a\n"
"state_dir (`check` compares with a baseline instead).\n"
"\n"
"Options:\n"
"  --format FMT   table (default: one change a line, then a summary) or jsonl\n"
"                 ({\"type\",\"address\",\"port\",\"field\",\"previous\",\"current\"})\n"
"  -h, --help     this help\n"
"\n"
"Exit status: 0 the scans agree, 1 they differ, 2 usage error or a file that is\n"
"not a scan (one line naming the file and line).\n"
"\n"
"Example:\n"
"  watch53 scan 192.0.2.0/24 --format jsonl -o monday.jsonl\n"
"  watch53 scan 192.0.2.0/24 --format jsonl -o tuesday.jsonl\n"
"  watch53 diff monday.jsonl tuesday.jsonl\n");
}

struct diff_out {
	bool jsonl;
	long by_kind[SCANDIFF_REMOVED + 1];
};

/* Facts come from DNS servers: printed as data (escaped), never as terminal control. */
static int
print_change(void *arg, const struct scandiff_change *c)
{
	struct diff_out *d = arg;
	char prev[sizeof(c->previous) * 4], cur[sizeof(c->current) * 4], where[80];

	d->by_kind[c->kind]++;
	if (d->jsonl) {
		char line[2048];
		int n = scandiff_change_json(c, line, sizeof(line));
		if (n < 0)
			return n;
		printf("%s\n", line);
		return 0;
	}
	snprintf(where, sizeof(where), c->address[0] && strchr(c->address, ':') ? "[%s]:%u" : "%s:%u",
		 c->address, c->port);
	printf("%-8s %-22s %-16s %s -> %s\n", scandiff_kind_name(c->kind), where,
	       c->field[0] ? c->field : "-",
	       util_printable(c->previous, prev, sizeof(prev), UTIL_PRINT_ASCII),
	       util_printable(c->current, cur, sizeof(cur), UTIL_PRINT_ASCII));
	return 0;
}

int
cmd_diff(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct scandiff_set *old = NULL, *new = NULL;
	struct diff_out d = { 0 };
	char err[512];
	long n;
	int ch, status = EXIT_USAGE;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			if (strcmp(optarg, "jsonl") == 0)
				d.jsonl = true;
			else if (strcmp(optarg, "table") != 0)
				return cli_usage_error("diff", "--format: expected table or jsonl, got %s",
						       optarg);
			break;
		case 'h':
			cmd_diff_help(stdout);
			return EXIT_CLEAN;
		default:
			return cli_usage_error("diff", NULL);
		}
	}
	if (argc - optind != 2)
		return cli_usage_error("diff", "expected two scan files, OLD and NEW");
	if (scandiff_load(argv[optind], &old, err, sizeof(err)) < 0 ||
	    scandiff_load(argv[optind + 1], &new, err, sizeof(err)) < 0) {
		fprintf(stderr, "watch53 diff: %s\n", err);
		goto out;
	}
	n = scandiff_compare(old, new, print_change, &d);
	if (n < 0) {
		fprintf(stderr, "watch53 diff: %s\n", strerror((int)-n));
		status = EXIT_RUNTIME;
		goto out;
	}
	if (!d.jsonl)
		printf("%ld change%s: %ld opened, %ld closed, %ld changed, %ld added, %ld removed "
		       "(%zu addresses before, %zu after)\n", n, n == 1 ? "" : "s",
		       d.by_kind[SCANDIFF_OPENED], d.by_kind[SCANDIFF_CLOSED],
		       d.by_kind[SCANDIFF_CHANGED], d.by_kind[SCANDIFF_ADDED],
		       d.by_kind[SCANDIFF_REMOVED], scandiff_count(old), scandiff_count(new));
	status = n > 0 ? EXIT_FOUND : EXIT_CLEAN;
out:
	scandiff_set_free(old);
	scandiff_set_free(new);
	return status;
}
