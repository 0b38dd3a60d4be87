/*
 * amsync: what the alertmanager sinks are told. Alertmanager wants the alerts that are
 * firing now, re-sent while they last, rather than events: after each cycle every instance
 * of every alertmanager sink gets the whole active set, with endsAt a few intervals ahead
 * (sink_settings.hold_ns; an alert no longer re-sent resolves itself then), and the alerts
 * that stopped since that instance last took a post, resolved (endsAt now):
 *
 *   Watch53PortExposed  a port open against its expectation and not acknowledged
 *                       (baseline_unacknowledged); named after its worst finding of high
 *                       or critical severity instead when it has one on that protocol
 *                       (Watch53OpenResolver, Watch53BogusAnswer, Watch53Amplifier on UDP,
 *                       Watch53AxfrAllowed on TCP)
 *   Watch53PortDown     a port its target expects open, reported down
 *   Watch53Degraded     the last cycle could not probe
 *
 * What each instance last took (its label sets, a line each) is kept in state_dir as
 * "alertmanager-<sink>-<n>.sent", so an instance that was down gets the current set and
 * the resolutions it missed at the first cycle it answers, and `baseline accept` resolves
 * at the next cycle. A post never fails the cycle: it is logged, and tried again next
 * time.
 */
#ifndef WATCH53_AMSYNC_H
#define WATCH53_AMSYNC_H

#include "agent/config.h"

/* After a cycle's commit (the state on disk is what the alerts say): post to every
 * instance of every alertmanager sink of cfg, each within its timeout. Nothing when there
 * is none. */
void amsync_cycle(const struct config *cfg, const char *vantage);

#endif
