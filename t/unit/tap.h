/*
 * tap.h: the few TAP helpers the unit tests need (plan, ok, is_int,
 * is_str), printing "ok N - label" lines for automake's tap-driver.
 */
#ifndef H2GW_TAP_H
#define H2GW_TAP_H

#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed;

#define plan_no_plan() ((void)0)
#define done_testing() \
    (printf("1..%d\n", tap_n), tap_failed ? 1 : 0)

static inline int tap_ok(int cond, const char *label)
{
    ++tap_n;
    printf("%sok %d - %s\n", cond ? "" : "not ", tap_n, label);
    if (!cond) {
        ++tap_failed;
    }
    return cond;
}

static inline int tap_is_int(long got, long want, const char *label)
{
    if (!tap_ok(got == want, label)) {
        printf("#   got %ld, want %ld\n", got, want);
        return 0;
    }
    return 1;
}

static inline int tap_is_str(const char *got, const char *want, const char *label)
{
    int same = (got && want) ? strcmp(got, want) == 0 : got == want;

    if (!tap_ok(same, label)) {
        printf("#   got '%s', want '%s'\n", got ? got : "(null)",
               want ? want : "(null)");
        return 0;
    }
    return 1;
}

#endif
