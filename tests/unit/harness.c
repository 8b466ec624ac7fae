/* The shared unit-test harness: a forked child and a temporary directory per test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

/* The test being run (set by harness_setup, inherited by the child). */
static struct harness *harness_current;

/* The timeout of c: its own, or BOB_TEST_TIMEOUT's when set. */
static unsigned harness_timeout(const struct harness_case *c)
{
    const char *env = getenv("BOB_TEST_TIMEOUT");
    char *end;
    unsigned long v;
    if (!env || !*env)
        return c->timeout_s;
    v = strtoul(env, &end, 10);
    return *end || v == 0 || v > 86400 ? c->timeout_s : (unsigned)v;
}

int harness_setup(void **state)
{
    const struct harness_case *c = *state;
    const char *tmp = getenv("TMPDIR");
    struct harness *h = calloc(1, sizeof(*h));
    if (!h)
        return -1;
    h->c = c;
    if (!tmp || tmp[0] != '/')
        tmp = "/tmp";
    if (snprintf(h->dir, sizeof(h->dir), "%s/bob-unit-%s.XXXXXX", tmp, c->name) >=
            (int)sizeof(h->dir) ||
        !mkdtemp(h->dir)) {
        fprintf(stderr, "harness: cannot make a temporary directory for %s: %s\n", c->name,
                strerror(errno));
        free(h);
        return -1;
    }
    harness_current = h;
    *state = h;
    return 0;
}

/* Removes one entry of the tree, children first (nftw with FTW_DEPTH). */
static int harness_rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if ((type == FTW_DP ? rmdir(path) : unlink(path)) != 0) {
        fprintf(stderr, "harness: cannot remove %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

/*
 * Removes the test's directory. FTW_MOUNT keeps the walk on one file
 * system, so a mount a crashed test left behind is reported (its mount
 * point cannot be removed), never emptied.
 */
int harness_teardown(void **state)
{
    struct harness *h = *state;
    int r = 0;
    if (!h)
        return 0;
    if (nftw(h->dir, harness_rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) != 0)
        r = -1;
    if (harness_current == h)
        harness_current = NULL;
    free(h);
    *state = NULL;
    return r;
}

/* The child's side: the test alone in a cmocka group, so its assertions report as usual. */
static void harness_child(struct harness *h)
{
    const struct CMUnitTest one[] = {{h->c->name, h->c->fn, NULL, NULL, h}};
    int failed;
    setpgid(0, 0);
    failed = _cmocka_run_group_tests(h->c->name, one, 1, NULL, NULL);
    fflush(stdout);
    fflush(stderr);
    /* exit, not _exit: a sanitizer's leak check at exit covers the test. */
    exit(failed ? 1 : 0);
}

/* Sleeps ms milliseconds (whole, despite signals). */
static void harness_sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

void harness_run(void **state)
{
    struct harness *h = *state;
    unsigned timeout = harness_timeout(h->c);
    unsigned waited = 0, step = 1;
    int status;
    pid_t pid, r;
    if (getenv("BOB_TEST_NOFORK") && strcmp(getenv("BOB_TEST_NOFORK"), "1") == 0) {
        h->c->fn(state);
        return;
    }
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0)
        fail_msg("%s: fork: %s", h->c->name, strerror(errno));
    if (pid == 0)
        harness_child(h);
    setpgid(pid, pid); /* either side may win; the other then fails harmlessly */
    /* Polls with a growing step (1 ms to 50 ms): no signal handler, no extra fd. */
    while ((r = waitpid(pid, &status, WNOHANG)) == 0 || (r < 0 && errno == EINTR)) {
        if (waited >= timeout * 1000u) {
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
            fail_msg("%s: timed out after %u s; its processes were killed", h->c->name, timeout);
        }
        harness_sleep_ms(step);
        waited += step;
        if (step < 50)
            step *= 2;
    }
    if (r < 0)
        fail_msg("%s: waitpid: %s", h->c->name, strerror(errno));
    if (WIFSIGNALED(status))
        fail_msg("%s: killed by signal %d (%s)", h->c->name, WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    if (WEXITSTATUS(status) != 0)
        fail_msg("%s: failed in its child process (exit status %d)", h->c->name,
                 WEXITSTATUS(status));
}

const char *harness_dir(void)
{
    return harness_current ? harness_current->dir : NULL;
}

char *harness_path(const char *name)
{
    const char *dir = harness_dir();
    size_t n;
    char *p;
    assert_non_null(dir);
    n = strlen(dir) + 1 + strlen(name) + 1;
    p = malloc(n);
    assert_non_null(p);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}
