/*
 * Unit tests of src/platform cgroups (platform/cgroup.h): bases and jobs,
 * kill, limits, leftovers and the BOB_NO_CGROUP fallback, against the real
 * cgroup file systems. They need root and a writable cgroup v2; otherwise
 * the binary says why and exits 77 (skipped). Every test ends with a check
 * that no cgroup of this process is left, and the teardown kills and
 * removes whatever a failed test left.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "platform/cgroup.h"
#include "platform/linux_cgroup_int.h"

static struct cgroup_base *g_base; /* the test's base, closed by the teardown */
static struct cgroup_job *g_job;   /* the test's job, freed by the teardown */
static char g_parent[1024];        /* <v2>/bob */
static char g_v1parent[CGV1_N][1024];
static char g_fake[CGV1_N + 1][2048]; /* fake leftovers: removed by the teardown */
static pid_t g_kids[8];               /* processes to kill and reap in the teardown */

/* ---- helpers ---- */

static void remember_kid(pid_t pid)
{
    for (int i = 0; i < 8; i++)
        if (g_kids[i] == 0) {
            g_kids[i] = pid;
            return;
        }
}

static void forget_kid(pid_t pid)
{
    for (int i = 0; i < 8; i++)
        if (g_kids[i] == pid)
            g_kids[i] = 0;
}

/* In a forked child: enters the job as the launcher does (writes "0" into each procs fd). */
static void child_enter(const struct cgroup_job *j)
{
    const int *fds;
    size_t n = cgroup_job_procs_fds(j, &fds);
    for (size_t i = 0; i < n; i++)
        if (write(fds[i], "0", 1) != 1)
            _exit(120);
}

/* Waits for n "ready" bytes on fd (the children's; closed by their exit otherwise). */
static void wait_ready(int fd, int n)
{
    char c;
    for (int i = 0; i < n; i++)
        assert_int_equal(read(fd, &c, 1), 1);
    close(fd);
}

/* In a forked child: says "ready" on fd and waits for its end. */
static void ready_and_pause(int fd)
{
    if (write(fd, "r", 1) != 1)
        _exit(1);
    for (;;)
        pause();
}

/* Forks a child that joins j and waits there; returns once it is in. */
static pid_t fork_paused(const struct cgroup_job *j)
{
    int p[2];
    pid_t pid;
    assert_int_equal(pipe(p), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        child_enter(j);
        ready_and_pause(p[1]);
    }
    close(p[1]);
    wait_ready(p[0], 1);
    return pid;
}

/* The number of pids in dir/cgroup.procs. */
static int count_procs(const char *dir)
{
    char buf[4096];
    int n = 0;
    if (cg_read(dir, "cgroup.procs", buf, sizeof(buf)) < 0)
        return -1;
    for (char *p = buf; *p; p++)
        n += *p == '\n';
    return n;
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Whether a directory of this process's bases ("<pid>-...") is in dir. */
static bool ours_in(const char *dir)
{
    char prefix[32];
    DIR *d = opendir(dir);
    struct dirent *de;
    bool found = false;
    if (!d)
        return false;
    snprintf(prefix, sizeof(prefix), "%ld-", (long)getpid());
    while ((de = readdir(d)))
        if (strncmp(de->d_name, prefix, strlen(prefix)) == 0)
            found = true;
    closedir(d);
    return found;
}

static void open_base(void)
{
    struct err e = {0};
    int r = cgroup_base_open(&g_base, &e);
    if (r < 0)
        fail_msg("cgroup_base_open: %s", e.msg);
    assert_non_null(g_base);
}

static void close_base(void)
{
    struct err e = {0};
    struct cgroup_base *b = g_base;
    g_base = NULL;
    if (cgroup_base_close(b, 2000, &e) < 0)
        fail_msg("cgroup_base_close: %s", e.msg);
}

static struct cgroup_job *new_job(const char *name, uint64_t memory, uint64_t tasks)
{
    struct cgroup_limits lim = {.memory = memory, .tasks = tasks};
    struct err e = {0};
    if (cgroup_job_new(g_base, name, &lim, &g_job, &e) < 0)
        fail_msg("cgroup_job_new: %s", e.msg);
    return g_job;
}

static void remove_job(void)
{
    struct err e = {0};
    if (cgroup_job_remove(g_job, &e) < 0)
        fail_msg("cgroup_job_remove: %s", e.msg);
    g_job = NULL;
}

static int teardown(void **state)
{
    struct err e;
    for (int i = 0; i < 8; i++)
        if (g_kids[i] > 0) {
            kill(g_kids[i], SIGKILL);
            waitpid(g_kids[i], NULL, 0);
            g_kids[i] = 0;
        }
    if (g_job) {
        cgroup_job_kill(g_job, &e);
        cg_wait_empty(cgroup_job_path(g_job), 2000);
        cgroup_job_free(g_job);
        g_job = NULL;
    }
    if (g_base) {
        cgroup_base_close(g_base, 2000, &e);
        g_base = NULL;
    }
    for (int i = 0; i <= CGV1_N; i++)
        if (g_fake[i][0]) {
            if (i == 0)
                cg_write(g_fake[i], "cgroup.kill", "1");
            else
                cg_kill_v1_tree(g_fake[i]);
            cg_wait_empty(g_fake[i], 2000);
            cg_remove_tree(g_fake[i]);
            g_fake[i][0] = '\0';
        }
    unsetenv("BOB_NO_CGROUP");
    /* Nothing of ours is left, whatever the test did. */
    if (ours_in(g_parent))
        fail_msg("a cgroup of this test is left in %s", g_parent);
    for (int c = 0; c < CGV1_N; c++)
        if (g_v1parent[c][0] && ours_in(g_v1parent[c]))
            fail_msg("a cgroup of this test is left in %s", g_v1parent[c]);
    return 0;
}

/* ---- tests ---- */

/* The file parsers: populated, counters, junk. */
static void test_parse(void **state)
{
    uint64_t v = 7;
    assert_int_equal(cgroup_parse_populated("populated 1\nfrozen 0\n"), 1);
    assert_int_equal(cgroup_parse_populated("populated 0\nfrozen 0\n"), 0);
    assert_int_equal(cgroup_parse_populated("frozen 0\n"), -EINVAL);
    assert_int_equal(cgroup_parse_populated("populated 2\n"), -EINVAL);
    assert_int_equal(cgroup_parse_key("low 0\nhigh 0\nmax 12\noom 1\noom_kill 3\n", "oom", &v), 0);
    assert_int_equal(v, 1);
    assert_int_equal(cgroup_parse_key("oom_kill 3\n", "oom", &v), -ENOENT);
    assert_int_equal(cgroup_parse_key("max 12", "max", &v), 0);
    assert_int_equal(v, 12);
    assert_int_equal(cgroup_parse_key("max x\n", "max", &v), -EINVAL);
}

/* A base is made, locked while open, says what it can do, and is removed. */
static void test_base_create_remove(void **state)
{
    char desc[512], path[4096];
    int fd;
    open_base();
    snprintf(path, sizeof(path), "%s", cgroup_base_path(g_base));
    assert_true(exists(path));
    assert_true(strncmp(path, g_parent, strlen(g_parent)) == 0);
    /* Held: another lock of the directory is refused. */
    fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), -1);
    assert_int_equal(errno, EWOULDBLOCK);
    close(fd);
    /* This host (v2 or hybrid with v1 memory and pids) enforces both limits. */
    assert_int_equal(cgroup_base_limits(g_base), CGROUP_LIMIT_MEMORY | CGROUP_LIMIT_TASKS);
    cgroup_base_describe(g_base, desc, sizeof(desc));
    assert_non_null(strstr(desc, path));
    assert_null(strstr(desc, "not enforceable"));
    close_base();
    assert_false(exists(path));
}

/* A job is made with its descriptors, is empty, refuses bad names and is removed. */
static void test_job_create_remove(void **state)
{
    struct cgroup_job *dup = NULL;
    struct err e = {0};
    const int *fds;
    char path[4096];
    open_base();
    new_job("job-1", 0, 0);
    snprintf(path, sizeof(path), "%s", cgroup_job_path(g_job));
    assert_true(exists(path));
    assert_true(cgroup_job_dirfd(g_job) >= 0);
    assert_int_equal(cgroup_job_procs_fds(g_job, &fds), 1);
    assert_true(fds[0] >= 0);
    assert_int_equal(cgroup_job_populated(g_job, &e), 0);
    assert_int_equal(cgroup_job_new(g_base, "job-1", NULL, &dup, &e), -EEXIST);
    assert_null(dup);
    assert_int_equal(cgroup_job_new(g_base, "../x", NULL, &dup, &e), -EINVAL);
    assert_int_equal(cgroup_job_new(g_base, "cgroup.procs", NULL, &dup, &e), -EINVAL);
    assert_int_equal(cgroup_job_new(g_base, "", NULL, &dup, &e), -EINVAL);
    assert_int_equal(cgroup_job_new(g_base, "tasks", NULL, &dup, &e), -EINVAL);
    assert_int_equal(cgroup_job_new(g_base, "memory.max", NULL, &dup, &e), -EINVAL);
    remove_job();
    assert_false(exists(path));
    close_base();
}

/* CPU time: 0 in a new job, then what a child that spun used, kept after it is gone. */
static void test_job_cpu(void **state)
{
    struct err e = {0};
    uint64_t before = 1, after = 0;
    int status;
    pid_t pid;
    open_base();
    new_job("cpu", 0, 0);
    assert_int_equal(cgroup_job_cpu_usec(g_job, &before, &e), 0);
    assert_true(before == 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct timespec t0, t;
        child_enter(g_job);
        /* Spin on the CPU for 100 ms of its own time. */
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
        do
            clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
        while ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) < 100000000L);
        _exit(0);
    }
    remember_kid(pid);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    forget_kid(pid);
    assert_int_equal(cgroup_job_cpu_usec(g_job, &after, &e), 0);
    assert_true(after >= 100000);
    remove_job();
    close_base();
}

/* A job with children, grandchildren and a double-forked daemon: one kill takes them all. */
static void test_kill_takes_all(void **state)
{
    struct err e = {0};
    int p[2], status;
    pid_t pid;
    open_base();
    new_job("kill", 0, 0);
    assert_int_equal(pipe(p), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        child_enter(g_job);
        for (int i = 0; i < 2; i++)
            if (fork() == 0) {
                if (fork() == 0) /* a grandchild of the grandchild */
                    ready_and_pause(p[1]);
                ready_and_pause(p[1]);
            }
        if (fork() == 0) { /* the daemon: new session, parent gone */
            setsid();
            if (fork() == 0)
                ready_and_pause(p[1]);
            _exit(0);
        }
        wait(NULL); /* the daemon's first half */
        ready_and_pause(p[1]);
    }
    remember_kid(pid);
    close(p[1]);
    wait_ready(p[0], 6);
    assert_int_equal(cgroup_job_populated(g_job, &e), 1);
    assert_int_equal(count_procs(cgroup_job_path(g_job)), 6);
    assert_int_equal(cgroup_job_remove(g_job, &e), -EBUSY); /* not freed */
    assert_int_equal(cgroup_job_kill(g_job, &e), 0);
    assert_int_equal(cg_wait_empty(cgroup_job_path(g_job), 2000), 0); /* fails, not hangs */
    assert_int_equal(waitpid(pid, &status, 0), pid);
    forget_kid(pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    assert_int_equal(cgroup_job_populated(g_job, &e), 0);
    assert_int_equal(count_procs(cgroup_job_path(g_job)), 0);
    remove_job();
    close_base();
}

/* Touching 200 MB under a 32M limit: OOM-killed, and the limit is reported reached. */
static void test_memory_limit(void **state)
{
    struct err e = {0};
    unsigned hit = 99;
    int status;
    pid_t pid;
    open_base();
    new_job("mem", 32u << 20, 0);
    assert_int_equal(cgroup_job_limits_hit(g_job, &hit, &e), 0);
    assert_int_equal(hit, 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        size_t size = 200u << 20;
        char *m;
        child_enter(g_job);
        m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED)
            _exit(2);
        for (size_t i = 0; i < size; i += 4096)
            m[i] = 1;
        _exit(0); /* survived: the limit did not hold */
    }
    remember_kid(pid);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    forget_kid(pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    assert_int_equal(cgroup_job_limits_hit(g_job, &hit, &e), 0);
    assert_int_equal(hit, CGROUP_LIMIT_MEMORY);
    remove_job();
    close_base();
}

/* Forking in a loop under tasks = 10 stops at the limit, and the limit is reported reached. */
static void test_tasks_limit(void **state)
{
    struct err e = {0};
    unsigned hit = 99;
    int status;
    pid_t pid;
    open_base();
    new_job("forks", 0, 10);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int n = 0;
        child_enter(g_job);
        for (; n < 50; n++) {
            pid_t k = fork();
            if (k < 0)
                break;
            if (k == 0)
                for (;;)
                    pause();
        }
        _exit(n);
    }
    remember_kid(pid);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    forget_kid(pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 9); /* 10 tasks: itself and 9 more */
    assert_int_equal(cgroup_job_limits_hit(g_job, &hit, &e), 0);
    assert_int_equal(hit, CGROUP_LIMIT_TASKS);
    assert_int_equal(cgroup_job_kill(g_job, &e), 0);
    assert_int_equal(cg_wait_empty(cgroup_job_path(g_job), 2000), 0);
    remove_job();
    close_base();
}

/* A limit the job does not set is never reported; one the host cannot enforce is refused. */
static void test_limit_refused_without_cgroup_controller(void **state)
{
    struct cgroup_limits lim = {.memory = 1 << 20};
    struct err e = {0};
    struct cgroup_job *j = NULL;
    open_base();
    g_base->v2 &= ~(unsigned)CGROUP_LIMIT_MEMORY; /* as on a host without memory control */
    if (g_base->v1_path[CGV1_MEMORY]) {
        assert_int_equal(rmdir(g_base->v1_path[CGV1_MEMORY]), 0);
        free(g_base->v1_path[CGV1_MEMORY]);
        g_base->v1_path[CGV1_MEMORY] = NULL;
    }
    assert_int_equal(cgroup_base_limits(g_base) & CGROUP_LIMIT_MEMORY, 0);
    assert_int_equal(cgroup_job_new(g_base, "nomem", &lim, &j, &e), -ENOTSUP);
    assert_null(j);
    assert_non_null(strstr(e.msg, "memory"));
    close_base();
}

/* A stale base (no bob holds it) is killed and removed; a held one is left alone. */
static void test_sweep_leftovers(void **state)
{
    struct err e = {0};
    char job[4096], live[4096], pidstr[32];
    unsigned found = 0;
    int lockfd, status, r;
    pid_t pid;
    open_base();
    /* A bob that was SIGKILLed: its base with a job with a process, and its v1 twin. */
    snprintf(g_fake[0], sizeof(g_fake[0]), "%s/%ld-1.stale", g_parent, (long)getpid());
    snprintf(job, sizeof(job), "%s/job", g_fake[0]);
    assert_int_equal(mkdir(g_fake[0], 0755), 0);
    assert_int_equal(mkdir(job, 0755), 0);
    for (int c = 0; c < CGV1_N; c++)
        if (g_base->v1_parent[c]) {
            snprintf(g_fake[c + 1], sizeof(g_fake[0]), "%s/%ld-1.stale", g_base->v1_parent[c],
                     (long)getpid());
            assert_int_equal(mkdir(g_fake[c + 1], 0755), 0);
        }
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        for (;;)
            pause();
    remember_kid(pid);
    snprintf(pidstr, sizeof(pidstr), "%ld", (long)pid);
    assert_int_equal(cg_write(job, "cgroup.procs", pidstr), 0);
    /* A live bob's base: held. */
    snprintf(live, sizeof(live), "%s/%ld-2.live", g_parent, (long)getpid());
    assert_int_equal(mkdir(live, 0755), 0);
    lockfd = open(live, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(lockfd >= 0);
    assert_int_equal(flock(lockfd, LOCK_EX | LOCK_NB), 0);

    r = cgroup_sweep(g_base, 2000, &found, &e);
    close(lockfd);
    rmdir(live);
    if (r < 0)
        fail_msg("cgroup_sweep: %s", e.msg);
    assert_true(found >= 1);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    forget_kid(pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    for (int i = 0; i <= CGV1_N; i++)
        if (g_fake[i][0])
            assert_false(exists(g_fake[i]));
    assert_true(exists(cgroup_base_path(g_base))); /* our own is kept */
    close_base();
}

/* Closing a base kills what its jobs still run and removes every directory. */
static void test_close_kills_and_removes(void **state)
{
    char path[4096], v1[4096] = "";
    int status;
    pid_t pid;
    open_base();
    new_job("left", 16u << 20, 20);
    if (g_job->v1_path[CGV1_PIDS])
        snprintf(v1, sizeof(v1), "%s", g_job->v1_path[CGV1_PIDS]);
    snprintf(path, sizeof(path), "%s", cgroup_base_path(g_base));
    pid = fork_paused(g_job);
    remember_kid(pid);
    cgroup_job_free(g_job); /* busy: left to the base */
    g_job = NULL;
    assert_true(exists(path));
    close_base();
    assert_int_equal(waitpid(pid, &status, 0), pid);
    forget_kid(pid);
    assert_true(WIFSIGNALED(status));
    assert_false(exists(path));
    if (v1[0])
        assert_false(exists(v1));
}

/* BOB_NO_CGROUP=1: unavailable, and every call says so instead of failing. */
static void test_no_cgroup_fallback(void **state)
{
    struct cgroup_base *b = (void *)1;
    struct err e = {0};
    char desc[256];
    unsigned found = 9;
    setenv("BOB_NO_CGROUP", "1", 1);
    assert_int_equal(cgroup_base_open(&b, &e), -ENOTSUP);
    assert_null(b);
    assert_non_null(strstr(e.msg, "BOB_NO_CGROUP"));
    assert_int_equal(cgroup_base_limits(NULL), 0);
    cgroup_base_describe(NULL, desc, sizeof(desc));
    assert_non_null(strstr(desc, "cannot be enforced"));
    assert_int_equal(cgroup_sweep(NULL, 0, &found, &e), 0);
    assert_int_equal(found, 0);
    assert_int_equal(cgroup_base_close(NULL, 0, &e), 0);
    assert_false(ours_in(g_parent));
}

/*
 * A sandbox's cgroup outlives the object (and the bob) that put a daemon in
 * it; cgroup_sandbox_kill by key, later, kills the daemon and removes it.
 */
static void test_sandbox_cgroup(void **state)
{
    struct cgroup_job *j;
    struct err e = {0};
    char *dir;
    int p[2], status;
    pid_t pid;
    assert_int_equal(cgroup_sandbox_open("bad/key", &j, &e), -EINVAL);
    assert_int_equal(cgroup_sandbox_kill("test-nosuch", 100, &e), 0);
    assert_int_equal(cgroup_sandbox_open("test-sbx", &j, &e), 0);
    dir = strdup(cgroup_job_path(j));
    assert_non_null(strstr(dir, "/bob-sandboxes/test-sbx"));
    assert_int_equal(pipe(p), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        child_enter(j);
        if (fork() == 0) { /* the daemon */
            setsid();
            ready_and_pause(p[1]);
        }
        _exit(0);
    }
    close(p[1]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    wait_ready(p[0], 1);
    cgroup_job_free(j); /* the object goes, the cgroup and its daemon stay */
    assert_true(exists(dir));
    assert_int_equal(count_procs(dir), 1);
    assert_int_equal(cgroup_sandbox_kill("test-sbx", 2000, &e), 0);
    assert_false(exists(dir));
    free(dir);
}

/*
 * A cgroup holding only a sandbox's init (pid 1 of a pid namespace of its
 * own) counts as empty for cgroup_job_populated_but_inits; any other
 * process counts.
 */
static void test_cmd_cgroup_inits(void **state)
{
    struct cgroup_job *j;
    struct err e = {0};
    int p[2], status;
    pid_t plain, outer, init = 0;
    (void)state;
    assert_int_equal(cgroup_sandbox_cmd("test-cmdinit", &j, &e), 0);
    /* A process of its own pid namespace's: pid 1 there. */
    assert_int_equal(pipe(p), 0);
    outer = fork();
    assert_true(outer >= 0);
    if (outer == 0) {
        pid_t in;
        close(p[0]);
        if (unshare(CLONE_NEWPID) != 0)
            _exit(121);
        in = fork();
        if (in == 0) {
            child_enter(j);
            ready_and_pause(p[1]);
        }
        close(p[1]);
        waitpid(in, NULL, 0);
        _exit(in < 0 ? 122 : 0);
    }
    close(p[1]);
    wait_ready(p[0], 1);
    {
        char buf[64];
        assert_int_equal(cg_read(cgroup_job_path(j), "cgroup.procs", buf, sizeof(buf)), 0);
        init = (pid_t)strtol(buf, NULL, 10);
    }
    assert_true(init > 0);
    assert_int_equal(cgroup_job_populated(j, &e), 1);
    assert_int_equal(cgroup_job_populated_but_inits(j, &e), 0);
    /* A plain process beside it counts. */
    plain = fork_paused(j);
    assert_int_equal(cgroup_job_populated_but_inits(j, &e), 1);
    kill(plain, SIGKILL);
    assert_int_equal(waitpid(plain, &status, 0), plain);
    kill(init, SIGKILL);
    assert_int_equal(waitpid(outer, &status, 0), outer);
    assert_int_equal(cg_wait_empty(cgroup_job_path(j), 2000), 0);
    assert_int_equal(cgroup_job_populated(j, &e), 0);
    assert_int_equal(cgroup_job_populated_but_inits(j, &e), 0);
    cgroup_job_free(j);
    assert_int_equal(cgroup_sandbox_kill("test-cmdinit", 2000, &e), 0);
}

/*
 * A kept command cgroup that was killed is removed when freed, its dying
 * processes waited for: left, it would kill at birth the next command
 * cloned into it (Linux 6.18).
 */
static void test_cmd_cgroup_killed_goes(void **state)
{
    struct cgroup_job *j;
    struct err e = {0};
    char *dir;
    pid_t pid;
    int status;
    (void)state;
    assert_int_equal(cgroup_sandbox_cmd("test-cmdkill", &j, &e), 0);
    dir = strdup(cgroup_job_path(j));
    {
        /* 256 MiB of its own to give back: its exit takes a while. */
        int p[2];
        assert_int_equal(pipe(p), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            char *m =
                mmap(NULL, 256u << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (m == MAP_FAILED)
                _exit(1);
            memset(m, 1, 256u << 20);
            close(p[0]);
            child_enter(j);
            ready_and_pause(p[1]);
        }
        close(p[1]);
        wait_ready(p[0], 1);
    }
    assert_int_equal(cgroup_job_kill(j, &e), 0);
    cgroup_job_free(j); /* at once, while the process may still be dying */
    assert_false(exists(dir));
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    assert_int_equal(cgroup_sandbox_cmd("test-cmdkill", &j, &e), 0); /* a fresh one */
    assert_true(exists(dir));
    cgroup_job_free(j);
    assert_int_equal(cgroup_sandbox_kill("test-cmdkill", 2000, &e), 0);
    free(dir);
}

/* Learns the shared directories once (for the leftover checks) and skips when it cannot. */
static bool setup_paths(void)
{
    struct cgroup_base *b;
    struct err e = {0};
    if (cgroup_base_open(&b, &e) < 0) {
        printf("# skipped: no writable cgroup v2 (%s)\n", e.msg);
        return false;
    }
    snprintf(g_parent, sizeof(g_parent), "%s", b->parent);
    for (int c = 0; c < CGV1_N; c++)
        if (b->v1_parent[c])
            snprintf(g_v1parent[c], sizeof(g_v1parent[c]), "%s", b->v1_parent[c]);
    cgroup_base_close(b, 1000, &e);
    return true;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_parse, teardown),
        cmocka_unit_test_teardown(test_base_create_remove, teardown),
        cmocka_unit_test_teardown(test_job_create_remove, teardown),
        cmocka_unit_test_teardown(test_job_cpu, teardown),
        cmocka_unit_test_teardown(test_kill_takes_all, teardown),
        cmocka_unit_test_teardown(test_memory_limit, teardown),
        cmocka_unit_test_teardown(test_tasks_limit, teardown),
        cmocka_unit_test_teardown(test_limit_refused_without_cgroup_controller, teardown),
        cmocka_unit_test_teardown(test_sweep_leftovers, teardown),
        cmocka_unit_test_teardown(test_close_kills_and_removes, teardown),
        cmocka_unit_test_teardown(test_no_cgroup_fallback, teardown),
        cmocka_unit_test_teardown(test_sandbox_cgroup, teardown),
        cmocka_unit_test_teardown(test_cmd_cgroup_inits, teardown),
        cmocka_unit_test_teardown(test_cmd_cgroup_killed_goes, teardown),
    };
    if (geteuid() != 0) {
        printf("# skipped: the cgroup tests need root\n");
        return 77;
    }
    unsetenv("BOB_NO_CGROUP");
    if (!setup_paths())
        return 77;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
