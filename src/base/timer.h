/* A few periodic timers and the time until the next one is due, for an event loop that
 * sleeps until there is work or a timer fires (as Redis's ae.c does) instead of keeping
 * deadlines by hand. Times are ms_now() seconds. */
#ifndef MS_BASE_TIMER_H
#define MS_BASE_TIMER_H

#include <stdbool.h>

#define MS_TIMERS_MAX 8

typedef struct {
    double when, every; /* every <= 0: a disabled timer (never due) */
} ms_timer;

typedef struct {
    int n;
    ms_timer t[MS_TIMERS_MAX];
} ms_timers;

/* A timer due every `every` seconds from now; returns its index (-1 when full). */
int ms_timers_add(ms_timers *ts, double every, double now);

/* Whether timer i is due at `now`; a due timer is re-armed one period after now. */
bool ms_timers_due(ms_timers *ts, int i, double now);

/* Restarts timer i: due one period after now. */
void ms_timers_reset(ms_timers *ts, int i, double now);

/* Seconds from now until the next timer is due (0 when one is due already), at most cap. */
double ms_timers_wait(const ms_timers *ts, double now, double cap);

#endif
