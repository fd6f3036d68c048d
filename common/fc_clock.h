/*
 * fc_clock: CLOCK_MONOTONIC time for durations and deadlines, one
 * definition for the whole project (the daemon, the CLI and the library).
 */
#ifndef FC_CLOCK_H
#define FC_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Nanoseconds on CLOCK_MONOTONIC (never jumps with the wall clock). */
static inline int64_t fc_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

#endif
