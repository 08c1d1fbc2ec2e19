/* shiftclock: moves the wall clock of a process and every process it starts by
 * VERITY_SHIFT_SECONDS, leaving the monotonic clock alone. Loaded with LD_PRELOAD
 * by .ci/timeshift to run the test suite at another date.
 *
 * Why not libfaketime: Debian's libfaketime 0.9.10 cannot move Python 3.11's clock.
 * With the monotonic clock faked, every timed wait hangs (sem_clockwait is not
 * intercepted; wolfcw/libfaketime#390); with it excluded, time.sleep() fails with
 * EINVAL (clock_nanosleep with TIMER_ABSTIME; wolfcw/libfaketime#426). Verity only
 * needs the wall clock moved: time.time(), datetime.now() and the C library's
 * time() and gettimeofday() all come through the three functions below.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

static long long shift_seconds(void) {
    static int ready = 0;
    static long long shift = 0;
    if (!ready) {
        const char *value = getenv("VERITY_SHIFT_SECONDS");
        shift = value ? strtoll(value, NULL, 10) : 0;
        ready = 1;
    }
    return shift;
}

static int is_wall_clock(clockid_t clock) {
    return clock == CLOCK_REALTIME || clock == CLOCK_REALTIME_COARSE || clock == CLOCK_TAI;
}

int clock_gettime(clockid_t clock, struct timespec *now) {
    static int (*real)(clockid_t, struct timespec *) = NULL;
    if (!real) real = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
    int result = real(clock, now);
    if (result == 0 && now && is_wall_clock(clock)) now->tv_sec += shift_seconds();
    return result;
}

int gettimeofday(struct timeval *now, void *zone) {
    static int (*real)(struct timeval *, void *) = NULL;
    if (!real) real = (int (*)(struct timeval *, void *))dlsym(RTLD_NEXT, "gettimeofday");
    int result = real(now, zone);
    if (result == 0 && now) now->tv_sec += shift_seconds();
    return result;
}

time_t time(time_t *out) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    if (out) *out = now.tv_sec;
    return now.tv_sec;
}
