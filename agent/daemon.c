/* daemon: the `watch53 run` event loop, its cycle thread and its delivery thread. */
#define _GNU_SOURCE
#include "agent/daemon.h"

#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "agent/check.h"
#include "agent/cli.h"
#include "agent/config.h"
#include "agent/process.h"
#include "agent/scheduler.h"
#include "agent/sniff.h"
#include "agent/sinks.h"
#include "agent/state.h"
#include "alerts/outbox.h"
#include "alerts/webhook.h"
#include "common/log.h"
#include "common/sdnotify.h"
#include "common/util.h"
#include "probes/syn.h"

/* SIGTERM to exit: what we wait for a cycle and a delivery to wind down (systemd's
 * default TimeoutStopSec is far above; the promise is 5 s) */
#define DAEMON_STOP_NS (3500 * NS_PER_MS)
/* one outbox_deliver run; longer backlogs continue in the next run at once */
#define DAEMON_DELIVERY_BUDGET_NS (60 * NS_PER_SEC)
/* the outbox is looked at this often even when nothing asks: it picks up a wall clock
 * step (next_try times are wall time) within a minute */
#define DAEMON_DELIVERY_IDLE_NS (60 * NS_PER_SEC)
#define DAEMON_DELIVERY_MIN_NS (1 * NS_PER_SEC)
/* while an `alerts flush` holds the send lock: look again this soon */
#define DAEMON_DELIVERY_BUSY_NS (5 * NS_PER_SEC)
/* a cycle that is due while a command (`baseline accept`, `history`) holds the state lock
 * waits this long for it (the command is short; a cancel still ends the wait at once) */
#define DAEMON_LOCK_WAIT_NS (600 * NS_PER_SEC)
/* blocks from this size up are mmap'd and go back to the kernel when freed (glibc's default,
 * but fixed: see daemon_run) */
#define DAEMON_MMAP_THRESHOLD (128 * 1024)

/* A loaded config, shared by the threads: each holds a reference while it uses one, so a
 * reload can make a new one current at any time. refs is guarded by daemon.mu. */
struct dconf {
	struct config cfg;
	struct sink_settings *sinks;
	size_t nsinks;
	unsigned refs;
};

struct daemon {
	const struct daemon_opts *o;
	pthread_mutex_t mu;             /* guards everything the threads share (marked) */
	struct dconf *conf;             /* mu: current config; the loop holds a reference */
	int lockfd;                     /* state_dir's service lock, held for life */
	char run_user[64];              /* the user it runs as ("" = as started) */
	char cfg_user[64];              /* the config's "user" at start (a reload compares) */
	struct scheduler sched;         /* loop only */
	bool ready;                     /* start-up done (log destination is final) */

	/* a reload that loaded, waiting for the running cycle to end (loop only) */
	struct dconf *pending;
	struct scheduler pending_sched;
	int pending_lockfd;             /* lock of a new state_dir, -1: same dir */

	/* the cycle thread: one job at a time */
	pthread_t cycle_tid;
	bool cycle_started;
	pthread_cond_t cycle_cv;
	bool job_posted, job_done, cycle_quit;  /* mu */
	struct dconf *job_conf;         /* mu */
	size_t job_group;
	const size_t *job_only;         /* the group's targets, NULL: all */
	size_t job_nonly;
	int job_rc;                     /* mu, with job_res, job_err, job_end */
	struct check_result job_res;
	char job_err[1024];
	uint64_t job_start, job_end;
	atomic_int cancel;              /* the loop sets it; the scan polls it (threads:
					 * C11 atomic, not volatile sig_atomic_t) */
	int done_fd;                    /* eventfd: the cycle thread wakes the loop */

	/* the delivery thread */
	pthread_t deliver_tid;
	bool deliver_started;
	pthread_cond_t deliver_cv;      /* on CLOCK_MONOTONIC */
	bool deliver_cv_init;
	bool deliver_kick, deliver_quit; /* mu */
	uint64_t delivered;             /* mu: events delivered since a cycle last asked
					 * (daemon_delivered: the metrics) */

	struct syn_io *syn_io;          /* raw sockets for probe.tcp_mode "syn", opened while
					 * privileged; used by the cycle thread only */
	/* passive.interface: the capture in this loop (loop only; see "passive capture") */
	struct sniffer *sniffer;
	char passive_iface[IF_NAMESIZE];
	uint64_t passive_next;          /* daemon_now() of the next hand-over to the state */
	struct sdnotify sd;
	uint64_t wd_half, wd_next;      /* WATCHDOG=1 period and next due (0: none) */
	int sigfd, timerfd;
	uint64_t cycles_ok, cycles_failed;
	bool stop, reload, trigger;
};

/* The daemon of an unclean stop, left to the threads still running until the exit. */
static struct daemon *daemon_abandoned;

/*
 * The schedule's clock: CLOCK_BOOTTIME, which is monotonic (no wall clock steps) and also
 * counts time spent suspended. After a resume a group whose interval passed in suspension
 * runs once at once, not an interval later — and only once, since the next start is
 * computed from that cycle's end (scheduler.h). CLOCK_MONOTONIC would stop during suspend
 * and leave the monitor blind for up to an interval after every resume.
 */
static uint64_t
daemon_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

static const char *
plural(size_t n)
{
	return n == 1 ? "" : "s";
}

/* ---- configs ---- */

static void
dconf_free(struct dconf *c)
{
	if (c == NULL)
		return;
	sinks_free(c->sinks, c->nsinks);
	config_clear(&c->cfg);
	free(c);
}

/* Load and validate everything a cycle and a delivery will need; nothing is applied. */
static int
dconf_load(const char *path, struct dconf **out, char *err, size_t errlen)
{
	struct dconf *c = calloc(1, sizeof(*c));
	int rc;

	*out = NULL;
	if (c == NULL) {
		util_errf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	config_init(&c->cfg);
	rc = config_load(path, &c->cfg, err, errlen);
	if (rc < 0) {
		free(c);
		return rc;
	}
	rc = sinks_from_config(&c->cfg, path, &c->sinks, &c->nsinks);
	if (rc < 0) {
		util_errf(err, errlen, "%s: alerts: out of memory", path);
		dconf_free(c);
		return rc;
	}
	c->refs = 1;
	*out = c;
	return 0;
}

/* Drop one reference; the caller holds d->mu. */
static void
dconf_put_locked(struct dconf *c)
{
	if (c != NULL && --c->refs == 0)
		dconf_free(c);
}

static int
sched_from(struct scheduler *s, const struct config *c, uint64_t now)
{
	uint64_t *iv = calloc(c->ntargets ? c->ntargets : 1, sizeof(*iv));
	int rc;

	if (iv == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < c->ntargets; i++)
		iv[i] = c->targets[i].interval_ns;
	rc = sched_build(s, iv, c->ntargets, c->interval_ns, now);
	free(iv);
	return rc;
}

static void
apply_log(const struct daemon *d)
{
	const struct config *c = &d->conf->cfg;
	enum log_level lvl = c->log_level;
	enum log_level want = d->o->verbose >= 2 ? LOG_LVL_DEBUG
			      : d->o->verbose ? LOG_LVL_INFO : LOG_LVL_ERR;

	log_set_level(want > lvl ? want : lvl);
	/* a detached daemon has no stderr; before start-up is done, errors go where the
	 * person starting us looks */
	if (d->ready && (c->log_syslog || d->o->detach))
		log_set_dest(LOG_DEST_SYSLOG);
	else
		log_set_dest(log_stderr_is_journal() ? LOG_DEST_JOURNAL : LOG_DEST_STDERR);
}

/* Same directory (not just the same spelling), so a reload does not lock it twice. */
static bool
same_dir(const char *a, const char *b)
{
	struct stat sa, sb;

	if (strcmp(a, b) == 0)
		return true;
	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

/* ---- the cycle thread ---- */

/* An event at the log level of its severity (journald's priority follows): info and low
 * are information, medium and high warnings, critical an error. */
static void
log_event(const struct alert_event *ev)
{
	void (*say)(const char *, ...) __attribute__((format(printf, 1, 2))) =
		ev->severity >= SEV_CRITICAL ? log_errx :
		ev->severity >= SEV_MEDIUM ? log_warnx : log_info;

	say("%s (%s) %s%s%s%s: %s", alert_type_name(ev->type),
	    alert_severity_name(ev->severity), ev->address[0] ? ev->address : "monitor",
	    ev->protocol[0] ? " " : "", ev->protocol, ev->protocol[0] ? "/53" : "",
	    ev->summary);
}

/* check_opts.delivered: what the delivery thread did since the last cycle asked, for the
 * metrics (`check` delivers in its cycle and counts itself). */
static bool
daemon_delivered(void *arg, uint64_t *n)
{
	struct daemon *d = arg;
	bool known;

	pthread_mutex_lock(&d->mu);
	known = d->conf != NULL && d->conf->nsinks > 0;
	*n = d->delivered;
	d->delivered = 0;
	pthread_mutex_unlock(&d->mu);
	return known;
}

/* The cycle thread's events, as each cycle commits them (check_opts.event). */
static void
log_event_cb(void *arg, const struct alert_event *ev)
{
	(void)arg;
	log_event(ev);
}

static void *
cycle_main(void *arg)
{
	struct daemon *d = arg;

	pthread_mutex_lock(&d->mu);
	for (;;) {
		struct check_result res;
		struct check_opts co;
		const struct config *cfg;
		char err[sizeof(d->job_err)] = "";
		uint64_t one = 1;
		int rc;

		while (!d->job_posted && !d->cycle_quit)
			pthread_cond_wait(&d->cycle_cv, &d->mu);
		if (!d->job_posted)
			break;
		d->job_posted = false;
		cfg = &d->job_conf->cfg;
		/* the state lock only for the cycle: `baseline accept` and the like run
		 * between cycles, and one running when a cycle is due delays it a little */
		co = (struct check_opts){ .lock_wait_ns = DAEMON_LOCK_WAIT_NS, .deliver = false,
					  .alertmanager = true,
					  .only = d->job_only, .nonly = d->job_nonly,
					  .cancel = &d->cancel, .syn_io = d->syn_io,
					  .event = log_event_cb, .delivered = daemon_delivered,
					  .delivered_arg = d };
		pthread_mutex_unlock(&d->mu);

		memset(&res, 0, sizeof(res));
		if (d->cancel) {
			snprintf(err, sizeof(err), "cancelled before it started");
			rc = -ECANCELED;
		} else {
			rc = check_cycle_opts(cfg, &co, &res, err, sizeof(err));
		}

		pthread_mutex_lock(&d->mu);
		d->job_rc = rc;
		d->job_res = res;
		memcpy(d->job_err, err, sizeof(err));
		d->job_end = daemon_now();
		d->job_done = true;
		if (write(d->done_fd, &one, sizeof(one)) != sizeof(one))
			log_warn("cycle thread: cannot wake the loop");
	}
	pthread_mutex_unlock(&d->mu);
	return NULL;
}

/* ---- the delivery thread ---- */


/* One delivery run; returns how long to wait before the next unless kicked, *delivered
 * the events it delivered. */
static uint64_t
deliver_once(const struct dconf *c, uint64_t *delivered)
{
	struct outbox_report rep = { 0 };
	uint64_t wait = DAEMON_DELIVERY_IDLE_NS, now;
	char dir[PATH_MAX], err[512];
	int sendfd;

	*delivered = 0;
	if (c->nsinks == 0)
		return wait;
	/* one sender at a time: an `alerts flush` beside the service sends them now */
	if ((sendfd = state_lock_take(c->cfg.state_dir, STATE_LOCK_SEND, 0, NULL, err,
				      sizeof(err))) < 0) {
		log_debug("alert delivery: %s; the next run tries again", err);
		return DAEMON_DELIVERY_BUSY_NS;
	}
	check_outbox_dir(&c->cfg, dir, sizeof(dir));
	if (outbox_deliver(dir, c->sinks, c->nsinks, util_wall_ns(), false,
			   DAEMON_DELIVERY_BUDGET_NS, &rep, err, sizeof(err)) < 0) {
		log_warnx("alert delivery: %s; events stay queued", err);
		goto out;
	}
	for (size_t i = 0; i < rep.nunknown; i++)
		log_debug("outbox: %s/%s belongs to no configured sink: left alone", dir,
			  rep.unknown[i]);
	if (rep.delivered || rep.failed || rep.dead || rep.quarantined)
		log_info("alert delivery: %zu delivered in %zu message%s, %zu queued, %zu dead "
			 "letter", rep.delivered, rep.messages, plural(rep.messages), rep.remaining,
			 rep.dead);
	*delivered = rep.delivered;
	if (rep.out_of_budget) {
		wait = 0; /* more is due: go on at once */
	} else if (rep.remaining > 0) {
		/* the oldest waiting event of each sink decides when that sink can go on */
		now = util_wall_ns();
		for (size_t i = 0; i < rep.nsinks; i++) {
			const struct outbox_sink_report *s = &rep.sinks[i];
			uint64_t w = s->next_try > now ? s->next_try - now : 0;
			if (s->remaining > 0 && w < wait)
				wait = w;
		}
		if (wait < DAEMON_DELIVERY_MIN_NS)
			wait = DAEMON_DELIVERY_MIN_NS;
	}
out:
	outbox_report_clear(&rep);
	state_unlock(sendfd);
	return wait;
}

static void *
deliver_main(void *arg)
{
	struct daemon *d = arg;
	struct timespec due;

	/* first run at once: a backlog from before a restart goes out now */
	clock_gettime(CLOCK_MONOTONIC, &due);
	pthread_mutex_lock(&d->mu);
	for (;;) {
		struct dconf *c;
		uint64_t wait, delivered;

		while (!d->deliver_quit && !d->deliver_kick)
			if (pthread_cond_timedwait(&d->deliver_cv, &d->mu, &due) == ETIMEDOUT)
				break;
		if (d->deliver_quit)
			break;
		d->deliver_kick = false;
		c = d->conf;
		c->refs++;
		pthread_mutex_unlock(&d->mu);

		wait = deliver_once(c, &delivered);

		pthread_mutex_lock(&d->mu);
		d->delivered += delivered;
		dconf_put_locked(c);
		clock_gettime(CLOCK_MONOTONIC, &due);
		wait += (uint64_t)due.tv_nsec;
		due.tv_sec += (time_t)(wait / NS_PER_SEC);
		due.tv_nsec = (long)(wait % NS_PER_SEC);
	}
	pthread_mutex_unlock(&d->mu);
	return NULL;
}

static void
deliver_kick(struct daemon *d)
{
	pthread_mutex_lock(&d->mu);
	d->deliver_kick = true;
	pthread_cond_signal(&d->deliver_cv);
	pthread_mutex_unlock(&d->mu);
}

/* ---- cycles ---- */

static void
cycle_start(struct daemon *d, size_t g, uint64_t now)
{
	const struct sched_group *gr = &d->sched.groups[g];
	char iv[32];

	sched_start(&d->sched, g);
	d->job_group = g;
	/* one group holding every target: exactly what `watch53 check` scans */
	d->job_only = d->sched.ngroups > 1 ? gr->targets : NULL;
	d->job_nonly = d->sched.ngroups > 1 ? gr->ntargets : 0;
	d->job_start = now;
	log_debug("cycle starting: %zu target%s every %s", gr->ntargets, plural(gr->ntargets),
		  util_fmt_duration(gr->interval_ns, iv, sizeof(iv)));
	pthread_mutex_lock(&d->mu);
	d->job_conf = d->conf;
	d->conf->refs++;
	d->job_posted = true;
	pthread_cond_signal(&d->cycle_cv);
	pthread_mutex_unlock(&d->mu);
}

/* The cycle thread finished a job: account for it and schedule the group again. */
static void
cycle_finish(struct daemon *d)
{
	struct check_result res;
	struct dconf *c;
	char err[sizeof(d->job_err)], dur[32], next[32];
	uint64_t end, wake, now;
	int rc;

	pthread_mutex_lock(&d->mu);
	if (!d->job_done) {
		pthread_mutex_unlock(&d->mu);
		return;
	}
	d->job_done = false;
	rc = d->job_rc;
	res = d->job_res;
	memset(&d->job_res, 0, sizeof(d->job_res));
	memcpy(err, d->job_err, sizeof(err));
	end = d->job_end;
	c = d->job_conf;
	d->job_conf = NULL;
	pthread_mutex_unlock(&d->mu);

	sched_done(&d->sched, d->job_group, end, util_random32());
	now = daemon_now();
	wake = sched_next_wake(&d->sched);
	util_fmt_duration(wake > now && wake != SCHED_NONE ? wake - now : 0, next, sizeof(next));
	if (rc == 0) {
		d->cycles_ok++;
		util_fmt_duration(res.duration_ns, dur, sizeof(dur));
		log_info("%s: %llu address%s, %llu open port%s, %zu event%s%s in %s; next cycle "
			 "in %s", res.first_cycle ? "baseline recorded" : "cycle done",
			 (unsigned long long)res.addresses, res.addresses == 1 ? "" : "es",
			 (unsigned long long)res.open_ports, plural(res.open_ports), res.nevents,
			 plural(res.nevents), res.degraded ? " (DEGRADED)" : "", dur, next);
		sdnotify_sendf(&d->sd, "STATUS=%llu cycles: last %llu addresses, %llu open, "
			       "%zu events%s; next in %s", (unsigned long long)d->cycles_ok,
			       (unsigned long long)res.addresses,
			       (unsigned long long)res.open_ports, res.nevents,
			       res.degraded ? ", DEGRADED" : "", next);
		if (res.nevents > 0)
			deliver_kick(d);
	} else if (rc == -ECANCELED) {
		log_info("cycle abandoned (stopping): nothing saved, the state is the last "
			 "complete cycle's");
	} else {
		d->cycles_failed++;
		log_warnx("cycle failed: %s; next cycle in %s", err, next);
		sdnotify_sendf(&d->sd, "STATUS=last cycle failed: %s", err);
	}
	check_result_clear(&res);
	pthread_mutex_lock(&d->mu);
	dconf_put_locked(c);
	pthread_mutex_unlock(&d->mu);
}

/* ---- reload ---- */

static void
pending_discard(struct daemon *d)
{
	if (d->pending == NULL)
		return;
	pthread_mutex_lock(&d->mu);
	dconf_put_locked(d->pending);
	pthread_mutex_unlock(&d->mu);
	d->pending = NULL;
	sched_clear(&d->pending_sched);
	if (d->pending_lockfd != -1)
		state_unlock(d->pending_lockfd);
	d->pending_lockfd = -1;
}

static void
reload_apply(struct daemon *d)
{
	struct dconf *old;

	sched_carry(&d->pending_sched, &d->sched);
	sched_clear(&d->sched);
	d->sched = d->pending_sched;
	sched_init(&d->pending_sched);
	if (d->pending_lockfd != -1) {
		state_unlock(d->lockfd);
		d->lockfd = d->pending_lockfd;
		d->pending_lockfd = -1;
	}
	pthread_mutex_lock(&d->mu);
	old = d->conf;
	d->conf = d->pending;
	d->pending = NULL;
	dconf_put_locked(old);
	pthread_mutex_unlock(&d->mu);
	apply_log(d);
	/* the capture was opened with privileges the process no longer has */
	if (strcmp(d->conf->cfg.passive.interface ? d->conf->cfg.passive.interface : "",
		   d->passive_iface) != 0)
		log_warnx("passive.interface changed: the capture stays on %s until a restart",
			  d->passive_iface[0] ? d->passive_iface : "(none)");
	log_info("config reloaded: %zu target%s in %zu schedule group%s, state_dir %s",
		 d->conf->cfg.ntargets, plural(d->conf->cfg.ntargets), d->sched.ngroups,
		 plural(d->sched.ngroups), d->conf->cfg.state_dir);
	sdnotify_send(&d->sd, "READY=1\nSTATUS=config reloaded");
	/* sinks may have changed: what waits for them can go now */
	deliver_kick(d);
}

/* SIGHUP: load and validate the new config completely; only a good one is applied, when
 * no cycle runs (a cycle uses one config from start to end). */
static void
reload_prepare(struct daemon *d)
{
	const char *path = d->o->config_path;
	struct dconf *nc = NULL;
	struct scheduler ns;
	struct timespec mono;
	char err[1024];
	int lockfd = -1, rc;

	clock_gettime(CLOCK_MONOTONIC, &mono);
	sdnotify_sendf(&d->sd, "RELOADING=1\nMONOTONIC_USEC=%llu",
		       (unsigned long long)mono.tv_sec * 1000000ull +
			       (unsigned long long)mono.tv_nsec / 1000);
	log_info("SIGHUP: reloading %s", path);
	/* a newer SIGHUP supersedes a reload not applied yet (and frees its lock, which
	 * this one may need) */
	pending_discard(d);
	sched_init(&ns);
	rc = dconf_load(path, &nc, err, sizeof(err));
	if (rc == 0 && (rc = sched_from(&ns, &nc->cfg, daemon_now())) < 0)
		util_errf(err, sizeof(err), "%s: cannot build the schedule: %s", path,
			  strerror(-rc));
	if (rc == 0 && nc->cfg.probe.tcp_syn && d->syn_io == NULL) {
		util_errf(err, sizeof(err), "%s: probe.tcp_mode \"syn\" needs raw sockets, "
			  "which are opened only at start (before privileges are dropped): "
			  "restart the daemon to turn it on", path);
		rc = -EPERM;
	}
	/* privileges are gone after start: a new user takes a restart (--user wins) */
	if (rc == 0 && d->o->user == NULL &&
	    strcmp(nc->cfg.user ? nc->cfg.user : "", d->cfg_user) != 0)
		log_warnx("config reload: \"user\" is now \"%s\", but the daemon keeps running "
			  "as %s%s%s: restart it to change the user", nc->cfg.user ? nc->cfg.user : "",
			  d->run_user[0] ? "\"" : "the user it was started as",
			  d->run_user, d->run_user[0] ? "\"" : "");
	if (rc == 0 && !same_dir(nc->cfg.state_dir, d->conf->cfg.state_dir)) {
		lockfd = state_lock_take(nc->cfg.state_dir, STATE_LOCK_SERVICE, 0, NULL, err,
					 sizeof(err));
		if (lockfd < 0)
			rc = lockfd;
	}
	if (rc < 0) {
		log_warnx("config reload failed, still running the previous config: %s", err);
		sdnotify_send(&d->sd, "READY=1\nSTATUS=config reload failed: kept the previous "
			      "config");
		sched_clear(&ns);
		if (nc != NULL) {
			pthread_mutex_lock(&d->mu);
			dconf_put_locked(nc);
			pthread_mutex_unlock(&d->mu);
		}
		return;
	}
	d->pending = nc;
	d->pending_sched = ns;
	d->pending_lockfd = lockfd;
	if (d->sched.running)
		log_info("config reload: the new config is valid; it applies when the running "
			 "cycle ends");
}

/* ---- the loop ---- */

static void
timer_arm(int fd, uint64_t at)
{
	struct itimerspec its;

	memset(&its, 0, sizeof(its));
	if (at != SCHED_NONE) {
		if (at == 0)
			at = 1; /* an all-zero value would disarm */
		its.it_value.tv_sec = (time_t)(at / NS_PER_SEC);
		its.it_value.tv_nsec = (long)(at % NS_PER_SEC);
	}
	if (timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, NULL) == -1)
		log_warn("timerfd_settime");
}

static void
signals_read(struct daemon *d)
{
	struct signalfd_siginfo si;

	while (read(d->sigfd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			d->stop = true;
			break;
		case SIGHUP:
			d->reload = true;
			break;
		case SIGUSR1:
			d->trigger = true;
			break;
		default:
			break;
		}
	}
}

/* ---- passive capture (passive.interface): a hook into the loop ----
 * The capture is opened before privileges are dropped and then lives in this loop: its fd
 * is one more poll entry, a read never waits (sniff.h), and what it proves goes to the
 * state machine between cycles only (the loop starts cycles, so the state file has one
 * writer at a time), at most every DAEMON_PASSIVE_APPLY_NS. */
#define DAEMON_PASSIVE_APPLY_NS (5 * NS_PER_SEC)

static int
passive_open(struct daemon *d, char *err, size_t errlen)
{
	const struct config *c = &d->conf->cfg;
	struct sniffer_opts so = { .iface = c->passive.interface, .port = c->probe.port };
	int rc = sniffer_open(&so, &d->sniffer, err, errlen);

	if (rc < 0) {
		if (rc == -EPERM)
			util_errf(err, errlen, "passive.interface %s: capturing needs CAP_NET_RAW: "
				  "start the daemon as root (it drops privileges after start-up)",
				  c->passive.interface);
		return -EPERM;
	}
	snprintf(d->passive_iface, sizeof(d->passive_iface), "%s", c->passive.interface);
	log_info("passive detection on %s", d->passive_iface);
	return 0;
}

static void
passive_read(struct daemon *d)
{
	char err[512];

	/* bounded: the rest waits for the next pass of the loop */
	for (int round = 0; round < 8; round++) {
		int n = sniffer_dispatch(d->sniffer, SNIFF_DISPATCH_BATCH, err, sizeof(err));

		if (n < 0) {
			log_warnx("passive capture: %s", err);
			return;
		}
		if (n < SNIFF_DISPATCH_BATCH)
			return;
	}
}

/* Between cycles: hand new responders to the state machine. Returns the poll timeout (ms)
 * the loop may sleep before it is due again, or -1 (nothing pending). */
static int
passive_apply(struct daemon *d, uint64_t now)
{
	/* between cycles: a command holding the state lock defers this to the next try */
	struct check_opts co = { .lock_wait_ns = 0, .deliver = false };
	struct check_result res;
	char err[1024];
	int rc;

	if (d->sniffer == NULL || d->sched.running || !sniffer_pending(d->sniffer))
		return -1;
	if (now < d->passive_next)
		return (int)((d->passive_next - now) / NS_PER_MS) + 1;
	d->passive_next = now + DAEMON_PASSIVE_APPLY_NS;
	if ((rc = sniffer_apply(d->sniffer, &d->conf->cfg, &co, &res, err, sizeof(err))) < 0) {
		if (rc == -EWOULDBLOCK)
			log_debug("passive detection: %s; applied at the next try", err);
		else
			log_warnx("passive detection: %s", err);
		return -1;
	}
	for (size_t i = 0; i < res.nevents; i++)
		log_event(&res.events[i]);
	if (res.nevents > 0)
		deliver_kick(d);
	check_result_clear(&res);
	return -1;
}

static int
daemon_loop(struct daemon *d)
{
	struct pollfd pfd[4] = {
		{ .fd = d->sigfd, .events = POLLIN },
		{ .fd = d->timerfd, .events = POLLIN },
		{ .fd = d->done_fd, .events = POLLIN },
		/* poll skips a negative fd: no passive capture, no entry */
		{ .fd = d->sniffer ? sniffer_fd(d->sniffer) : -1, .events = POLLIN },
	};

	for (;;) {
		uint64_t now = daemon_now(), wake, x;
		long g;

		if (d->stop)
			return EXIT_CLEAN;
		if (!d->sched.running) {
			if (d->pending != NULL)
				reload_apply(d);
			g = sched_due(&d->sched, now);
			if (g >= 0)
				cycle_start(d, (size_t)g, now);
		}
		if (d->wd_half && now >= d->wd_next) {
			sdnotify_send(&d->sd, "WATCHDOG=1");
			d->wd_next = now + d->wd_half;
		}
		wake = sched_next_wake(&d->sched);
		if (d->wd_half && d->wd_next < wake)
			wake = d->wd_next;
		timer_arm(d->timerfd, wake);

		if (poll(pfd, 4, passive_apply(d, now)) == -1) {
			if (errno == EINTR)
				continue;
			log_err("poll");
			return EXIT_RUNTIME;
		}
		if (pfd[0].revents & POLLIN)
			signals_read(d);
		if ((pfd[1].revents & POLLIN) && read(d->timerfd, &x, sizeof(x)) < 0 &&
		    errno != EAGAIN)
			log_warn("timerfd");
		if ((pfd[2].revents & POLLIN) && read(d->done_fd, &x, sizeof(x)) == sizeof(x))
			cycle_finish(d);
		if (pfd[3].revents & POLLIN)
			passive_read(d);
		if (d->stop)
			continue;
		if (d->reload) {
			d->reload = false;
			reload_prepare(d);
		}
		if (d->trigger) {
			d->trigger = false;
			log_info("SIGUSR1: %s", d->sched.running
				 ? "a cycle is running; the next one starts right after it"
				 : "starting a cycle now");
			sched_trigger(&d->sched, daemon_now());
		}
	}
}

/* SIGTERM: abandon the cycle, stop delivery, wait for both a bounded time. Returns true
 * when both threads ended (their memory may be freed). */
static bool
daemon_stop(struct daemon *d)
{
	struct timespec dl;
	bool clean = true;

	sdnotify_send(&d->sd, "STOPPING=1\nSTATUS=stopping");
	log_info("stopping%s", d->sched.running ? ": abandoning the running cycle" : "");
	pthread_mutex_lock(&d->mu);
	d->cancel = 1;
	d->cycle_quit = true;
	d->deliver_quit = true;
	pthread_cond_broadcast(&d->cycle_cv);
	pthread_cond_broadcast(&d->deliver_cv);
	pthread_mutex_unlock(&d->mu);

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_nsec += (long)(DAEMON_STOP_NS % NS_PER_SEC);
	dl.tv_sec += (time_t)(DAEMON_STOP_NS / NS_PER_SEC) + dl.tv_nsec / (long)NS_PER_SEC;
	dl.tv_nsec %= (long)NS_PER_SEC;
	if (d->cycle_started) {
		if (pthread_timedjoin_np(d->cycle_tid, NULL, &dl) != 0) {
			/* e.g. stuck in name resolution: it saves nothing once cancelled */
			log_warnx("the cycle did not stop in time: exiting without it "
				  "(nothing of it is saved)");
			clean = false;
		} else {
			d->cycle_started = false;
			cycle_finish(d); /* a cycle that completed just now is reported */
		}
	}
	if (d->deliver_started) {
		if (pthread_timedjoin_np(d->deliver_tid, NULL, &dl) != 0) {
			log_warnx("alert delivery is still waiting for a webhook: exiting "
				  "without it; the event stays in the outbox and goes out after "
				  "the restart");
			clean = false;
		} else {
			d->deliver_started = false;
		}
	}
	return clean;
}

static int
fds_open(struct daemon *d)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	/* blocked before any thread exists, so every thread inherits the mask and the
	 * signals wait for the loop's signalfd; no handler ever runs */
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
		return -EINVAL;
	signal(SIGPIPE, SIG_IGN);
	d->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	d->timerfd = timerfd_create(CLOCK_BOOTTIME, TFD_CLOEXEC | TFD_NONBLOCK);
	d->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->sigfd == -1 || d->timerfd == -1 || d->done_fd == -1)
		return -errno;
	return 0;
}

static int
threads_start(struct daemon *d)
{
	pthread_condattr_t ca;
	int rc;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	rc = pthread_cond_init(&d->deliver_cv, &ca);
	pthread_condattr_destroy(&ca);
	if (rc != 0)
		return -rc;
	d->deliver_cv_init = true;
	rc = pthread_create(&d->cycle_tid, NULL, cycle_main, d);
	if (rc != 0)
		return -rc;
	d->cycle_started = true;
	rc = pthread_create(&d->deliver_tid, NULL, deliver_main, d);
	if (rc != 0)
		return -rc;
	d->deliver_started = true;
	return 0;
}

int
daemon_run(const struct daemon_opts *o)
{
	const char *user_name = NULL;
	struct daemon *d;
	struct process_user user;
	const char *pidpath = o->pidfile;
	char err[1024];
	int code = EXIT_RUNTIME, report_fd = -1, pidfd = -1, rc;
	bool clean = true;

#ifdef M_MMAP_THRESHOLD
	/* Setting it turns off glibc's dynamic threshold, which rises each time a large
	 * block (state text, address lists) is freed, so that later ones of that size stay
	 * in the heap for good: measured, RSS then steps up ~2 MB after the first minute of
	 * 1 s cycles on 256 addresses. Fixed, every cycle's large buffers go back to the
	 * kernel and RSS stays flat over months (tests/bench/soak.sh). */
	mallopt(M_MMAP_THRESHOLD, DAEMON_MMAP_THRESHOLD);
#endif
	/* on the heap: after an unclean stop a thread may still look at it while the
	 * process exits (see below) */
	d = calloc(1, sizeof(*d));
	if (d == NULL) {
		fprintf(stderr, "watch53 run: out of memory\n");
		return EXIT_RUNTIME;
	}
	d->o = o;
	d->lockfd = d->pending_lockfd = d->sigfd = d->timerfd = d->done_fd = -1;
	d->sd.fd = -1;
	pthread_mutex_init(&d->mu, NULL);
	pthread_cond_init(&d->cycle_cv, NULL);
	sched_init(&d->sched);
	sched_init(&d->pending_sched);

	/* everything that can be wrong with the command line or the config is found
	 * before anything is forked, locked or dropped */
	if (dconf_load(o->config_path, &d->conf, err, sizeof(err)) < 0) {
		fprintf(stderr, "watch53 run: %s\n", err);
		free(d);
		return EXIT_USAGE;
	}
	apply_log(d);
	code = EXIT_USAGE;
	/* --user wins over the config's "user" (read once: privileges cannot come back) */
	user_name = o->user ? o->user : d->conf->cfg.user;
	if (user_name && process_user_lookup(user_name, &user, err, sizeof(err)) < 0) {
		log_errx("%s", err);
		goto out;
	}
	/* root with no user named, on a state_dir another user owns (the package's is
	 * watch53's): run as that owner, not as a root without capabilities whom the
	 * directory locks out, and every file stays the owner's */
	if (user_name == NULL &&
	    (rc = process_dir_owner(d->conf->cfg.state_dir, &user, err, sizeof(err))) != 0) {
		if (rc < 0) {
			log_errx("state_dir %s", err);
			goto out;
		}
		user_name = user.name;
		log_info("running as %s, the owner of state_dir %s (--user NAME to choose)",
			 user.name, d->conf->cfg.state_dir);
	}
	if ((rc = sched_from(&d->sched, &d->conf->cfg, daemon_now())) < 0) {
		log_errx("%s: cannot build the schedule: %s", o->config_path, strerror(-rc));
		goto out;
	}

	code = EXIT_RUNTIME;
	if (o->detach) {
		int pexit = EXIT_RUNTIME;
		rc = process_detach(&report_fd, &pexit);
		if (rc < 0) {
			log_errx("--daemon: fork: %s", strerror(-rc));
			goto out;
		}
		if (rc == 1) { /* the parent: the child is ready, or said why not */
			code = pexit;
			goto out;
		}
		if (pidpath == NULL)
			pidpath = PROCESS_DEFAULT_PIDFILE;
	}
	if (pidpath != NULL && (pidfd = process_pidfile_open(pidpath, err, sizeof(err))) < 0) {
		code = pidfd == -EWOULDBLOCK ? EXIT_LOCKED : EXIT_RUNTIME;
		log_errx("%s", err);
		goto out;
	}
	/* before the privileges go: the socket file may be root's */
	if (sdnotify_open(&d->sd, err, sizeof(err)) < 0)
		log_warnx("%s: readiness is not reported to systemd", err);
	if (webhook_global_init() < 0)
		log_warnx("libcurl could not be initialized: alerts will not be delivered");
	/* privileged resources first: SYN mode's packet and raw sockets and its capture need
	 * CAP_NET_RAW, which is gone after process_drop (connect and UDP probes need none) */
	if (d->conf->cfg.probe.tcp_syn) {
		int src = syn_io_open("any", &d->syn_io, err, sizeof(err));

		if (src < 0) {
			log_errx("probe.tcp_mode \"syn\": %s%s%s", err, src == -EPERM ? ": " : "",
				 src == -EPERM ? SYN_EPERM_HINT : "");
			goto out;
		}
	}
	if (d->conf->cfg.passive.interface != NULL && passive_open(d, err, sizeof(err)) < 0) {
		log_errx("%s", err);
		goto out;
	}
	if (geteuid() == 0 && user_name == NULL)
		log_warnx("running as root: pass --user NAME so the daemon runs unprivileged "
			  "(it needs no privilege after start-up)");
	else if (user_name != NULL && user.uid == 0)
		log_warnx("user \"%s\" is root: the daemon keeps every privilege; name an "
			  "unprivileged user (it needs none after start-up)", user_name);
	if (process_drop(user_name ? &user : NULL, err, sizeof(err)) < 0) {
		log_errx("dropping privileges: %s", err);
		goto out;
	}
	snprintf(d->run_user, sizeof(d->run_user), "%s", user_name ? user_name : "");
	snprintf(d->cfg_user, sizeof(d->cfg_user), "%s",
		 d->conf->cfg.user ? d->conf->cfg.user : "");
	/* a missing one is made by state_lock, as the run user */
	if (access(d->conf->cfg.state_dir, W_OK | X_OK) == -1 && errno != ENOENT) {
		log_errx("state_dir %s: %s%s%s", d->conf->cfg.state_dir, strerror(errno),
			 user_name ? " for user " : "", user_name ? user_name : "");
		goto out;
	}
	/* after the drop: the lock file (and every state file after it) is the run user's,
	 * so a later `check` as that user, or a reload back to this directory, can open it */
	d->lockfd = state_lock_take(d->conf->cfg.state_dir, STATE_LOCK_SERVICE, 0, NULL, err,
				    sizeof(err));
	if (d->lockfd < 0) {
		code = d->lockfd == -EWOULDBLOCK ? EXIT_LOCKED : EXIT_RUNTIME;
		log_errx("%s", err);
		goto out;
	}
	if ((rc = fds_open(d)) < 0) {
		log_errx("signalfd/timerfd/eventfd: %s", strerror(-rc));
		goto out;
	}
	if ((rc = threads_start(d)) < 0) {
		log_errx("cannot start threads: %s", strerror(-rc));
		goto out;
	}

	/* ready: from here on the loop owns the process */
	d->wd_half = sdnotify_watchdog_ns() / 2;
	d->wd_next = daemon_now();
	if (o->detach) {
		sdnotify_sendf(&d->sd, "MAINPID=%ld", (long)getpid());
		process_report(&report_fd, EXIT_CLEAN);
		process_detach_stdio();
	}
	d->ready = true;
	apply_log(d);
	log_info("watching %zu target%s in %zu schedule group%s; state_dir %s%s%s",
		 d->conf->cfg.ntargets, plural(d->conf->cfg.ntargets), d->sched.ngroups,
		 plural(d->sched.ngroups), d->conf->cfg.state_dir, user_name ? ", user " : "",
		 user_name ? user_name : "");
	sdnotify_send(&d->sd, "READY=1\nSTATUS=started");

	code = daemon_loop(d);
	clean = daemon_stop(d);
	if (code == EXIT_CLEAN)
		log_info("stopped after %llu cycle%s (%llu failed)",
			 (unsigned long long)d->cycles_ok, plural(d->cycles_ok),
			 (unsigned long long)d->cycles_failed);
out:
	process_report(&report_fd, code); /* a child that failed before it was ready */
	if ((d->cycle_started || d->deliver_started) && !d->ready) /* the loop never ran */
		clean = daemon_stop(d);
	process_pidfile_close(pidpath, pidfd);
	if (!clean) {
		/* a thread still runs (stuck in a webhook request or a name lookup) and may
		 * use all of it until the process exits: leave it be, still referenced */
		daemon_abandoned = d;
		return code;
	}
	pending_discard(d);
	sched_clear(&d->sched);
	if (d->syn_io != NULL)
		syn_io_close(d->syn_io);
	sniffer_free(d->sniffer);
	state_unlock(d->lockfd);
	sdnotify_close(&d->sd);
	if (d->sigfd != -1)
		close(d->sigfd);
	if (d->timerfd != -1)
		close(d->timerfd);
	if (d->done_fd != -1)
		close(d->done_fd);
	pthread_mutex_lock(&d->mu);
	dconf_put_locked(d->conf);
	pthread_mutex_unlock(&d->mu);
	pthread_cond_destroy(&d->cycle_cv);
	if (d->deliver_cv_init)
		pthread_cond_destroy(&d->deliver_cv);
	pthread_mutex_destroy(&d->mu);
	free(d);
	return code;
}
