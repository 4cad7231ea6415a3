/* Clocks for timing work, in seconds: monotonic wall time, and the CPU time of the
 * calling thread or of the whole process. One definition for the profiler, the trainer,
 * the runner, the scheduler's time limit and the benchmarks; and the calendar clock, for
 * times that are reported (when a frame arrived, when an event closed). */
#ifndef MS_BASE_CLOCK_H
#define MS_BASE_CLOCK_H

double ms_now(void);             /* CLOCK_MONOTONIC */
double ms_thread_cpu_now(void);  /* CLOCK_THREAD_CPUTIME_ID */
double ms_process_cpu_now(void); /* CLOCK_PROCESS_CPUTIME_ID */
double ms_wall_now(void);        /* CLOCK_REALTIME: seconds since 1970 (may jump) */

#endif
