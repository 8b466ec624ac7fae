/* Unit tests of the shared test harness itself (tests/unit/harness.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

/* The outer test's directory, where the inner tests leave their traces. */
static char outer[PATH_MAX];

/* Appends line to the file name in the outer directory. */
static void note(const char *name, const char *line)
{
    char path[PATH_MAX + 64];
    FILE *f;
    snprintf(path, sizeof(path), "%s/%s", outer, name);
    f = fopen(path, "a");
    assert_non_null(f);
    fprintf(f, "%s\n", line);
    fclose(f);
}

/* The whole content of path (malloc'd), or NULL when it cannot be read. */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    char *s = NULL;
    size_t cap = 0, len = 0, n;
    if (!f)
        return NULL;
    do {
        if (cap - len < 4096) {
            cap = cap * 2 + 4096;
            s = realloc(s, cap + 1);
            assert_non_null(s);
        }
        n = fread(s + len, 1, cap - len, f);
        len += n;
    } while (n > 0);
    fclose(f);
    s[len] = '\0';
    return s;
}

static void inner_pass(void **state)
{
    (void)state;
    note("dirs", harness_dir());
    note("ran", "pass");
}

static void inner_assert(void **state)
{
    (void)state;
    note("dirs", harness_dir());
    assert_int_equal(1, 2);
}

static void inner_abort(void **state)
{
    (void)state;
    note("dirs", harness_dir());
    abort();
}

static void inner_exit(void **state)
{
    (void)state;
    note("dirs", harness_dir());
    exit(7);
}

static void inner_hang(void **state)
{
    (void)state;
    note("dirs", harness_dir());
    for (;;)
        pause();
}

/* Each test's directory exists, is empty, is writable and is its own. */
static void test_dir_fresh(void **state)
{
    struct harness *h = *state;
    struct stat st;
    DIR *d;
    struct dirent *de;
    int entries = 0;
    char *p;
    assert_non_null(harness_dir());
    assert_string_equal(h->dir, harness_dir());
    assert_int_equal(harness_dir()[0], '/');
    assert_int_equal(stat(harness_dir(), &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    d = opendir(harness_dir());
    assert_non_null(d);
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            entries++;
    closedir(d);
    assert_int_equal(entries, 0);
    p = harness_path("f");
    assert_true(strncmp(p, harness_dir(), strlen(harness_dir())) == 0);
    assert_string_equal(p + strlen(harness_dir()), "/f");
    assert_int_equal(close(open(p, O_WRONLY | O_CREAT, 0600)), 0);
    free(p);
}

/*
 * A group of failing tests (an assertion, abort, exit, a hang) and a
 * passing one after them, run in a child as a test binary would be: each
 * failure is reported with its cause, the hang is cut at its timeout, the
 * test after them all still runs, and every temporary directory is gone.
 */
static void test_failures_isolated(void **state)
{
    pid_t pid;
    int status;
    char *out_path, *out, *dirs, *ran, *line;
    (void)state;
    snprintf(outer, sizeof(outer), "%s", harness_dir());
    out_path = harness_path("out");
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        const struct CMUnitTest tests[] = {
            harness_test(inner_assert), harness_test(inner_abort),
            harness_test(inner_exit),   harness_test_timeout(inner_hang, 1),
            harness_test(inner_pass),
        };
        int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
            _exit(100);
        unsetenv("BOB_TEST_TIMEOUT");
        unsetenv("BOB_TEST_NOFORK");
        _exit(cmocka_run_group_tests(tests, NULL, NULL));
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    out = slurp(out_path);
    assert_non_null(out);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 4)
        fail_msg("the group should report 4 failures; status 0x%x, output:\n%s", status, out);
    assert_non_null(strstr(out, "inner_abort: killed by signal 6"));
    assert_non_null(strstr(out, "inner_exit: failed in its child process (exit status 7)"));
    assert_non_null(strstr(out, "inner_hang: timed out after 1 s"));
    assert_non_null(strstr(out, "inner_assert: failed in its child process (exit status 1)"));
    assert_non_null(strstr(out, "0x1 != 0x2")); /* cmocka's own message, from the child */
    line = harness_path("ran");
    ran = slurp(line);
    free(line);
    assert_non_null(ran);
    assert_string_equal(ran, "pass\n");
    line = harness_path("dirs");
    dirs = slurp(line);
    free(line);
    assert_non_null(dirs);
    int ndirs = 0;
    for (line = strtok(dirs, "\n"); line; line = strtok(NULL, "\n")) {
        struct stat st;
        ndirs++;
        assert_true(strncmp(line, "/", 1) == 0);
        if (lstat(line, &st) == 0)
            fail_msg("the temporary directory %s is left", line);
    }
    assert_int_equal(ndirs, 5);
    free(out_path);
    free(out);
    free(ran);
    free(dirs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        harness_test(test_dir_fresh),
        harness_test(test_failures_isolated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
