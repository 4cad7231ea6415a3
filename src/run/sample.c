/* Hierarchical frame sampling: the tick rule of sample.h. */
#include "run/sample.h"

#include <math.h>

void ms_sampler_init(ms_sampler *s, double rate, double stream_fps)
{
    s->rate = rate;
    s->stream_fps = stream_fps;
    s->started = false;
    s->last_tick = 0;
}

/* floor(index * F / S), computed so that F == S gives exactly index. */
static int64_t tick_of(const ms_sampler *s, int64_t index)
{
    if (s->rate >= s->stream_fps) return index;
    return (int64_t)floor((double)index * s->rate / s->stream_fps);
}

bool ms_sampler_take(ms_sampler *s, int64_t index)
{
    int64_t tick = tick_of(s, index);
    if (s->started && tick <= s->last_tick) return false;
    s->started = true;
    s->last_tick = tick;
    return true;
}

void ms_sampler_resume(ms_sampler *s, int64_t index)
{
    s->started = true;
    s->last_tick = tick_of(s, index);
}
