/*
 * Linux cgroups, part two: one cgroup per job or command, its limits and
 * what the kernel says about them. Discovery and bases are in
 * linux_cgroup.c.
 *
 * A memory limit covers memory and swap together: v2 memory.max with
 * memory.swap.max 0, v1 memory.limit_in_bytes with memory.memsw.limit_in_bytes
 * at the same value (when the kernel accounts swap), so that a job cannot
 * dodge its limit by swapping and thrash the host instead of failing. In
 * v2, memory.oom.group makes an OOM kill take the whole job, which is
 * what bob does with a job that reached a limit anyway.
 *
 * "Reached" is the kernel's OOM killer acting, not memory.max events or
 * v1 memory.failcnt: those count every reclaim at the limit, which the page
 * cache of any build that writes files causes without harm.
 */
#ifdef __linux__

#include "platform/cgroup.h"
#include "platform/linux_cgroup_int.h"
#include "platform/linux_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * Whether name can be a job's directory: letters, digits, '-' and '_', so
 * no path tricks and no clash with a cgroup's files (which all have a dot,
 * but for v1's few below).
 */
static bool cgroup_job_name_ok(const char *name)
{
    static const char *const v1_files[] = {"tasks", "notify_on_release", "release_agent", NULL};
    if (!name || !*name || strlen(name) > 200)
        return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_'))
            return false;
    for (const char *const *f = v1_files; *f; f++)
        if (strcmp(name, *f) == 0)
            return false;
    return true;
}

/* Opens dir/cgroup.procs for writing and keeps it in the job. */
static int cgroup_job_add_procs(struct cgroup_job *j, const char *dir)
{
    char *p = xasprintf("%s/cgroup.procs", dir);
    int fd = open(p, O_WRONLY | O_CLOEXEC);
    free(p);
    if (fd < 0)
        return -errno;
    j->procs[j->nprocs++] = fd;
    return 0;
}

static void cgroup_job_add_limit_file(struct cgroup_job *j, const char *dir, const char *file)
{
    j->limit_files[j->nlimit++] = xasprintf("%s/%s", dir, file);
}

/* Writes a number into dir/file, naming both in e on failure. */
static int cgroup_job_set(const char *dir, const char *file, uint64_t v, struct err *e)
{
    char num[32];
    int r;
    snprintf(num, sizeof(num), "%" PRIu64, v);
    if ((r = cg_write(dir, file, num)) < 0)
        return lx_err(e, -r, "cgroup: cannot write %s to %s/%s: %s", num, dir, file, strerror(-r));
    return 0;
}

/* Sets the memory limit in v2 (memory.max, no swap, group OOM kill). */
static int cgroup_job_memory_v2(struct cgroup_job *j, uint64_t bytes, struct err *e)
{
    int r;
    if ((r = cgroup_job_set(j->path, "memory.max", bytes, e)) < 0)
        return r;
    if (cg_exists(j->path, "memory.swap.max") &&
        (r = cgroup_job_set(j->path, "memory.swap.max", 0, e)) < 0)
        return r;
    if (cg_exists(j->path, "memory.oom.group") &&
        (r = cgroup_job_set(j->path, "memory.oom.group", 1, e)) < 0)
        return r;
    cgroup_job_add_limit_file(j, j->path, "memory.events");
    j->v2 |= CGROUP_LIMIT_MEMORY;
    return 0;
}

/* Makes the job's directory in v1 hierarchy c of the base and opens its cgroup.procs. */
static int cgroup_job_v1_dir(struct cgroup_job *j, const struct cgroup_base *b, int c,
                             const char *name, struct err *e)
{
    char *p = xasprintf("%s/%s", b->v1_path[c], name);
    int r;
    if (mkdir(p, 0755) < 0) {
        r = lx_err(e, errno, "cgroup: cannot make %s: %s", p, strerror(errno));
        free(p);
        return r;
    }
    j->v1_path[c] = p;
    if ((r = cgroup_job_add_procs(j, p)) < 0)
        return lx_err(e, -r, "cgroup: cannot open %s/cgroup.procs: %s", p, strerror(-r));
    return 0;
}

/*
 * Job cgroups that were busy when freed (an init that reported the end of
 * its job and is still exiting): removed at the next chance, a job's
 * start or end, or with their base (cgroup_base_close).
 */
static struct strv graves;

static void graves_sweep(void)
{
    size_t k = 0;
    for (size_t i = 0; i < graves.n; i++) {
        if (rmdir(graves.v[i]) == 0 || errno == ENOENT)
            free(graves.v[i]);
        else
            graves.v[k++] = graves.v[i];
    }
    graves.n = k;
    if (!k)
        strv_free(&graves);
}

static void grave_rmdir(const char *path)
{
    if (rmdir(path) < 0 && errno == EBUSY)
        strv_push(&graves, path);
}

void cgroup_graves_forget(void)
{
    graves_sweep();
    strv_free(&graves);
}

int cgroup_job_new(struct cgroup_base *b, const char *name, const struct cgroup_limits *lim,
                   struct cgroup_job **out, struct err *e)
{
    struct cgroup_limits none = {0};
    struct cgroup_job *j;
    unsigned can = cgroup_base_limits(b);
    int r;

    *out = NULL;
    if (!lim)
        lim = &none;
    if (!cgroup_job_name_ok(name))
        return lx_err(e, EINVAL, "cgroup: bad job name \"%s\"", name ? name : "");
    if ((lim->memory && !(can & CGROUP_LIMIT_MEMORY)) ||
        (lim->tasks && !(can & CGROUP_LIMIT_TASKS)))
        return lx_err(e, ENOTSUP, "cgroup: this host cannot enforce a %s limit",
                      lim->memory && !(can & CGROUP_LIMIT_MEMORY) ? "memory" : "task");
    graves_sweep();
    j = xcalloc(1, sizeof(*j));
    j->dirfd = -1;
    j->path = xasprintf("%s/%s", b->path, name);
    j->events = xasprintf("%s/cgroup.events", j->path);
    if (mkdir(j->path, 0755) < 0) {
        r = lx_err(e, errno, "cgroup: cannot make %s: %s", j->path, strerror(errno));
        free(j->path);
        free(j->events);
        free(j);
        return r;
    }
    if ((j->dirfd = open(j->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
        (r = cgroup_job_add_procs(j, j->path)) < 0) {
        r = lx_err(e, errno, "cgroup: cannot open %s: %s", j->path, strerror(errno));
        goto fail;
    }
    if (lim->memory) {
        if (b->v2 & CGROUP_LIMIT_MEMORY)
            r = cgroup_job_memory_v2(j, lim->memory, e);
        else if ((r = cgroup_job_v1_dir(j, b, CGV1_MEMORY, name, e)) == 0 &&
                 (r = cgroup_job_set(j->v1_path[CGV1_MEMORY], "memory.limit_in_bytes", lim->memory,
                                     e)) == 0 &&
                 b->memsw)
            r = cgroup_job_set(j->v1_path[CGV1_MEMORY], "memory.memsw.limit_in_bytes", lim->memory,
                               e);
        if (r < 0)
            goto fail;
        if (!(j->v2 & CGROUP_LIMIT_MEMORY))
            j->v1 |= CGROUP_LIMIT_MEMORY;
    }
    if (lim->tasks) {
        if (b->v2 & CGROUP_LIMIT_TASKS) {
            if ((r = cgroup_job_set(j->path, "pids.max", lim->tasks, e)) < 0)
                goto fail;
            cgroup_job_add_limit_file(j, j->path, "pids.events");
            j->v2 |= CGROUP_LIMIT_TASKS;
        } else {
            if ((r = cgroup_job_v1_dir(j, b, CGV1_PIDS, name, e)) < 0 ||
                (r = cgroup_job_set(j->v1_path[CGV1_PIDS], "pids.max", lim->tasks, e)) < 0)
                goto fail;
            j->v1 |= CGROUP_LIMIT_TASKS;
        }
    }
    *out = j;
    return 0;
fail:
    cgroup_job_free(j);
    return r;
}

int cgroup_job_remove(struct cgroup_job *j, struct err *e)
{
    int r;
    if (!j)
        return 0;
    if ((r = cgroup_job_populated(j, e)) > 0)
        return lx_err(e, EBUSY, "cgroup: %s still has processes", j->path);
    if (r < 0 && r != -ENOENT)
        return r;
    for (int c = 0; c < CGV1_N; c++) {
        if (j->v1_path[c] && rmdir(j->v1_path[c]) < 0 && errno != ENOENT)
            return lx_err(e, errno, "cgroup: cannot remove %s: %s", j->v1_path[c], strerror(errno));
        free(j->v1_path[c]);
        j->v1_path[c] = NULL;
    }
    if (rmdir(j->path) < 0 && errno != ENOENT)
        return lx_err(e, errno, "cgroup: cannot remove %s: %s", j->path, strerror(errno));
    cgroup_job_free(j);
    return 0;
}

void cgroup_job_free(struct cgroup_job *j)
{
    if (!j)
        return;
    graves_sweep();
    for (size_t i = 0; i < j->nprocs; i++)
        close(j->procs[i]);
    if (j->dirfd >= 0)
        close(j->dirfd);
    for (int c = 0; c < CGV1_N; c++) {
        if (j->v1_path[c])
            grave_rmdir(j->v1_path[c]);
        free(j->v1_path[c]);
    }
    /*
     * A kept cgroup that was killed must go before the next command (cgroup_job_kill
     * says why): its processes are dying, so it is waited for, briefly, if need be.
     */
    if (j->killed_kept) {
        if (rmdir(j->path) < 0 && errno == EBUSY && cg_wait_empty(j->path, 2000) == 0)
            rmdir(j->path);
    } else if (!j->keep) {
        grave_rmdir(j->path);
    }
    for (size_t i = 0; i < j->nlimit; i++)
        free(j->limit_files[i]);
    free(j->path);
    free(j->events);
    free(j);
}

const char *cgroup_job_path(const struct cgroup_job *j)
{
    return j->path;
}

const char *cgroup_job_events_path(const struct cgroup_job *j)
{
    return j->events;
}

int cgroup_job_dirfd(const struct cgroup_job *j)
{
    return j->dirfd;
}

size_t cgroup_job_procs_fds(const struct cgroup_job *j, const int **fds)
{
    *fds = j->procs;
    return j->nprocs;
}

size_t cgroup_job_limit_files(const struct cgroup_job *j, const char *const **paths)
{
    *paths = (const char *const *)j->limit_files;
    return j->nlimit;
}

int cgroup_job_kill(struct cgroup_job *j, struct err *e)
{
    int r = cg_kill(j->path);
    if (r < 0)
        return lx_err(e, -r, "cgroup: cannot kill %s: %s", j->path, strerror(-r));
    /*
     * A cgroup that was killed is not used again: some kernels (6.18 here)
     * compare a CLONE_INTO_CGROUP child's kill count with the parent's
     * cgroup and SIGKILL it at birth in a cgroup once killed. A kept one
     * (cgroup_sandbox_cmd) is therefore removed by cgroup_job_free, and
     * the next command makes a fresh one.
     */
    if (r == 0 && j->keep) {
        j->keep = false;
        j->killed_kept = true;
    }
    return 0;
}

int cgroup_job_cpu_usec(const struct cgroup_job *j, uint64_t *usec, struct err *e)
{
    char buf[1024];
    int r = cg_read(j->path, "cpu.stat", buf, sizeof(buf));
    if (r < 0)
        return lx_err(e, -r, "cgroup: cannot read %s/cpu.stat: %s", j->path, strerror(-r));
    if (cgroup_parse_key(buf, "usage_usec", usec) < 0)
        return lx_err(e, EINVAL, "cgroup: %s/cpu.stat has no usage_usec", j->path);
    return 0;
}

int cgroup_job_populated(const struct cgroup_job *j, struct err *e)
{
    char buf[256];
    int r = cg_read(j->path, "cgroup.events", buf, sizeof(buf));
    if (r < 0)
        return lx_err(e, -r, "cgroup: cannot read %s: %s", j->events, strerror(-r));
    if ((r = cgroup_parse_populated(buf)) < 0)
        return lx_err(e, EINVAL, "cgroup: %s says \"%s\"", j->events, buf);
    return r;
}

/*
 * Whether pid is the init of a pid namespace below ours (NSpid ends in 1):
 * in a job's cgroup, one of bob's, as a job can make no pid namespace (no
 * CAP_SYS_ADMIN, and no user namespace from a chroot).
 */
static bool cgroup_is_init(long pid)
{
    char path[64], buf[2048], *l;
    ssize_t n;
    int fd;
    snprintf(path, sizeof(path), "/proc/%ld/status", pid);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return errno == ENOENT; /* gone already */
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    if (!(l = strstr(buf, "\nNSpid:")))
        return false;
    l += 8;
    l[strcspn(l, "\n")] = '\0';
    /* At least two pids, the last 1. */
    return strchr(l + strspn(l, " \t"), '\t') && strcmp(l + strlen(l) - 2, "\t1") == 0;
}

int cgroup_job_populated_but_inits(const struct cgroup_job *j, struct err *e)
{
    char buf[256], *p, *end;
    uint64_t below;
    int r = cgroup_job_populated(j, e);
    if (r <= 0)
        return r;
    /* cgroup.procs lists this cgroup's own: it says all only without cgroups below. */
    if (cg_read(j->path, "cgroup.stat", buf, sizeof(buf)) < 0 ||
        cgroup_parse_key(buf, "nr_descendants", &below) < 0 || below > 0)
        return 1;
    /* A short list when it is only inits: more than fits is more than them. */
    if (cg_read(j->path, "cgroup.procs", buf, sizeof(buf)) < 0)
        return 1;
    if (strlen(buf) >= sizeof(buf) - 1)
        return 1;
    for (p = buf; *p; p = end) {
        long pid = strtol(p, &end, 10);
        if (end == p || !cgroup_is_init(pid))
            return 1;
        while (*end == '\n')
            end++;
    }
    return 0;
}

/* Whether any of the keys counts above 0 in dir/file; false when unreadable. */
static bool cgroup_job_counted(const char *dir, const char *file, const char *const *keys)
{
    char buf[1024];
    if (!dir || cg_read(dir, file, buf, sizeof(buf)) < 0)
        return false;
    for (; *keys; keys++) {
        uint64_t v;
        if (cgroup_parse_key(buf, *keys, &v) == 0 && v > 0)
            return true;
    }
    return false;
}

int cgroup_job_limits_hit(const struct cgroup_job *j, unsigned *hit, struct err *e)
{
    static const char *const v2mem[] = {"oom", "oom_kill", "oom_group_kill", NULL};
    static const char *const v1mem[] = {"oom_kill", "under_oom", NULL};
    static const char *const pids[] = {"max", NULL};
    *hit = 0;
    if ((j->v2 & CGROUP_LIMIT_MEMORY) && cgroup_job_counted(j->path, "memory.events", v2mem))
        *hit |= CGROUP_LIMIT_MEMORY;
    if ((j->v1 & CGROUP_LIMIT_MEMORY) &&
        cgroup_job_counted(j->v1_path[CGV1_MEMORY], "memory.oom_control", v1mem))
        *hit |= CGROUP_LIMIT_MEMORY;
    if ((j->v2 & CGROUP_LIMIT_TASKS) && cgroup_job_counted(j->path, "pids.events", pids))
        *hit |= CGROUP_LIMIT_TASKS;
    if ((j->v1 & CGROUP_LIMIT_TASKS) &&
        cgroup_job_counted(j->v1_path[CGV1_PIDS], "pids.events", pids))
        *hit |= CGROUP_LIMIT_TASKS;
    return 0;
}

#endif

int cg_job_adopt(const char *path, struct cgroup_job **out)
{
    struct cgroup_job *j = xcalloc(1, sizeof(*j));
    int r = 0;
    j->path = xstrdup(path);
    j->events = xasprintf("%s/cgroup.events", path);
    if ((j->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        r = -errno;
    else
        r = cgroup_job_add_procs(j, path);
    if (r < 0) {
        cgroup_job_free(j);
        return r;
    }
    *out = j;
    return 0;
}

void cgroup_job_launch(const struct cgroup_job *j, int *dir_fd, const int **procs_fds,
                       size_t *n_procs)
{
    /* procs[0] is the v2 cgroup.procs (cgroup_job_add_procs of j->path comes first). */
    *dir_fd = j->dirfd;
    *procs_fds = j->nprocs > 1 ? j->procs + 1 : NULL;
    *n_procs = j->nprocs > 1 ? j->nprocs - 1 : 0;
}
