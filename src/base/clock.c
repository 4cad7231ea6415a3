/* Clocks for timing work (see clock.h). */
#include "base/clock.h"

#include <time.h>

static double seconds(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double ms_now(void) { return seconds(CLOCK_MONOTONIC); }
double ms_thread_cpu_now(void) { return seconds(CLOCK_THREAD_CPUTIME_ID); }
double ms_process_cpu_now(void) { return seconds(CLOCK_PROCESS_CPUTIME_ID); }
double ms_wall_now(void) { return seconds(CLOCK_REALTIME); }
