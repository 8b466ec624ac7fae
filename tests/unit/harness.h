/*
 * The shared unit-test harness, on top of cmocka, as libuv's test runner
 * does it: every test runs in a child process of its own, with a timeout,
 * so that a test that hangs or crashes fails alone, with a message saying
 * how, and the other tests of the binary still run; and every test gets a
 * fresh temporary directory, made before it and removed after it (by the
 * parent, so a crashed test's files go too).
 *
 *   static void test_x(void **state) { ... harness_dir() ... }
 *   int main(void)
 *   {
 *       const struct CMUnitTest tests[] = {
 *           harness_test(test_x),
 *           harness_test_timeout(test_slow, 120),
 *       };
 *       return cmocka_run_group_tests(tests, NULL, NULL);
 *   }
 *
 * The child runs the test through a cmocka group of its own, so its
 * assertions print as usual; the parent then fails the test with "exit
 * status N", "killed by signal N (name)" or "timed out after N s". The
 * test's *state is its struct harness.
 *
 * Environment: BOB_TEST_TIMEOUT=<seconds> replaces every test's timeout
 * (for valgrind or a slow machine); BOB_TEST_NOFORK=1 runs the tests in
 * the runner's own process (for a debugger), temporary directories still
 * made and removed.
 *
 * Include after <cmocka.h> and the headers it needs.
 */
#ifndef BOB_TEST_HARNESS_H
#define BOB_TEST_HARNESS_H

#include <limits.h>

#define HARNESS_TIMEOUT 60 /* seconds, when a test names none */

/* One test as the harness sees it (built by harness_test). */
struct harness_case {
    CMUnitTestFunction fn;
    const char *name;
    unsigned timeout_s;
};

/* What a running test may use: its directory (also harness_dir()). */
struct harness {
    const struct harness_case *c;
    char dir[PATH_MAX];
};

/* A cmocka test entry for f, run forked with the default timeout. */
#define harness_test(f) harness_test_timeout(f, HARNESS_TIMEOUT)
/* The same with a timeout of its own, in seconds. */
#define harness_test_timeout(f, secs)                                                              \
    {                                                                                              \
#f, harness_run, harness_setup, harness_teardown,                                          \
            &(struct harness_case){(f), #f, (secs) },                                              \
    }

/* The fixture and wrapper behind harness_test; not called directly. */
int harness_setup(void **state);
int harness_teardown(void **state);
void harness_run(void **state);

/* The running test's temporary directory (absolute, exists, empty at start). */
const char *harness_dir(void);
/* "<harness_dir()>/<name>", malloc'd: the caller frees it. */
char *harness_path(const char *name);

#endif
