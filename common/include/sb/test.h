/*  test.h — the selftest check macro.

    Each class ends with sb_<class>_test (bool verbose), which calls SB_CHECK
    for each behaviour it verifies. A failed check prints where and what, and
    the test goes on, so one run reports every failure; tests/unit/selftest.c
    runs every class and prints the closing "N passed, M failed" line.
*/
#ifndef SB_TEST_H_INCLUDED
#define SB_TEST_H_INCLUDED

#include <stdio.h>

extern int sb_test_passed;
extern int sb_test_failed;

#define SB_CHECK(cond)                                                                 \
    do {                                                                               \
        if (cond)                                                                      \
            sb_test_passed++;                                                          \
        else {                                                                         \
            sb_test_failed++;                                                          \
            fprintf (stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                              \
    } while (0)

#endif
