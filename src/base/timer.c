/* Periodic timers (see timer.h). */
#include "base/timer.h"

#include <assert.h>

int ms_timers_add(ms_timers *ts, double every, double now)
{
    if (ts->n == MS_TIMERS_MAX) return -1;
    ts->t[ts->n] = (ms_timer){now + every, every};
    return ts->n++;
}

bool ms_timers_due(ms_timers *ts, int i, double now)
{
    assert(i >= 0 && i < ts->n);
    ms_timer *t = &ts->t[i];
    if (!(t->every > 0) || now < t->when) return false;
    t->when = now + t->every;
    return true;
}

void ms_timers_reset(ms_timers *ts, int i, double now)
{
    assert(i >= 0 && i < ts->n);
    ts->t[i].when = now + ts->t[i].every;
}

double ms_timers_wait(const ms_timers *ts, double now, double cap)
{
    double wait = cap;
    for (int i = 0; i < ts->n; i++) {
        if (!(ts->t[i].every > 0)) continue;
        double left = ts->t[i].when - now;
        if (left < wait) wait = left > 0 ? left : 0;
    }
    return wait;
}
