/*
 * Linux processes: the processes inside a sandbox (their root directory at
 * or below it), those started since a command's first one, those holding a
 * path busy, and killing them, all by scanning /proc.
 *
 * /proc is read relative to one fd of it, and every answer is a snapshot:
 * a process may exit, or its pid be reused, between the scan and a kill.
 * The kill rounds (src/sandbox/killer.c) scan again, so that a process
 * missed by one scan, or started during it, is found by a later one.
 */
#ifdef __linux__

#include "platform/platform.h"
#include "platform/linux_int.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The pid of a /proc entry name, or 0 when it is not a process. */
static pid_t proc_pid(const char *name)
{
    unsigned long v;

    if (!str_to_uint(name, &v) || v == 0 || v > INT_MAX)
        return 0;
    return (pid_t)v;
}

/* Reads the symlink procfd/<pid>/<what> into out; drops a " (deleted)" suffix. */
static bool proc_link(int procfd, const char *pid, const char *what, char *out, size_t n)
{
    char rel[NAME_MAX + 16];
    ssize_t len;
    static const char deleted[] = " (deleted)";

    snprintf(rel, sizeof(rel), "%s/%s", pid, what);
    len = readlinkat(procfd, rel, out, n - 1);
    if (len <= 0)
        return false;
    out[len] = '\0';
    if ((size_t)len > sizeof(deleted) - 1 &&
        strcmp(out + len - (sizeof(deleted) - 1), deleted) == 0)
        out[len - (sizeof(deleted) - 1)] = '\0';
    return true;
}

/* Reads the small file procfd/<pid>/<what> (or an absolute path) into buf, NUL-terminated. */
static bool proc_read(int procfd, const char *pid, const char *what, char *buf, size_t n)
{
    char rel[NAME_MAX + 32];
    ssize_t len;
    int fd;

    snprintf(rel, sizeof(rel), "%s%s%s", pid, what[0] ? "/" : "", what);
    fd = openat(procfd, rel, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    len = read(fd, buf, n - 1);
    close(fd);
    if (len <= 0)
        return false;
    buf[len] = '\0';
    return true;
}

/* The start time of pid in clock ticks since boot (field 22 of /proc/PID/stat). */
static bool proc_start(int procfd, const char *pid, unsigned long long *ticks)
{
    char buf[1024], *p;

    if (!proc_read(procfd, pid, "stat", buf, sizeof(buf)))
        return false;
    /* "pid (comm) state ...": comm may hold spaces and ')', the last ')' ends it. */
    p = strrchr(buf, ')');
    if (!p)
        return false;
    /* Each space after ')' starts the next field: 3 (state) is after the
     * first, 22 (starttime) after the 20th. */
    for (int field = 3; field <= 22; field++) {
        p = strchr(p + 1, ' ');
        if (!p)
            return false;
    }
    *ticks = strtoull(p + 1, NULL, 10);
    return true;
}

int plat_since_mark(pid_t first, struct plat_since *s)
{
    char name[32];

    memset(s, 0, sizeof(*s));
    s->first = first;
    s->at_ms = now_ms();
    snprintf(name, sizeof(name), "/proc/%d", (int)first);
    return proc_start(AT_FDCWD, name, &s->start) ? 0 : -1;
}

/* True when pid is a process (thread group leader), not another thread's id. */
static bool proc_is_leader(int procfd, const char *pid_name, pid_t pid)
{
    char buf[1024], *p;

    if (!proc_read(procfd, pid_name, "status", buf, sizeof(buf)))
        return false;
    p = strstr(buf, "\nTgid:");
    return p && strtol(p + 6, NULL, 10) == (long)pid;
}

/* The last pid handed out in our pid namespace, or 0. */
static pid_t last_pid(void)
{
    char buf[32];
    unsigned long v;

    if (!proc_read(AT_FDCWD, "/proc/sys/kernel/ns_last_pid", "", buf, sizeof(buf)))
        return 0;
    buf[strcspn(buf, "\n")] = '\0';
    return str_to_uint(buf, &v) && v <= INT_MAX ? (pid_t)v : 0;
}

/* Appends pid to the malloc'd list. */
static void pid_push(pid_t **pids, size_t *n, size_t *cap, pid_t pid)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        *pids = xrealloc(*pids, *cap * sizeof(**pids));
    }
    (*pids)[(*n)++] = pid;
}

/* True when pid (in the sandbox) started at or after s: later tick, or same tick and not older. */
static bool started_since(int procfd, const char *name, pid_t pid, const struct plat_since *s)
{
    unsigned long long t;

    if (!proc_start(procfd, name, &t))
        return false; /* gone */
    return t > s->start || (t == s->start && pid >= s->first);
}

/* The processes at or below root; with s, only those started since s. */
static int find_pids(const char *root, const struct plat_since *s, pid_t **pids, size_t *n,
                     struct err *e)
{
    char *canon, target[PATH_MAX + 1], name[32];
    pid_t self = getpid(), last;
    size_t cap = 0;
    struct dirent *de;
    DIR *d;

    *pids = NULL;
    *n = 0;
    canon = realpath(root, NULL);
    if (!canon) {
        if (errno == ENOENT)
            return 0;
        return err_sys(e, errno, "cannot find processes in %s", root);
    }
    if (strcmp(canon, "/") == 0) {
        free(canon);
        return lx_err(e, EINVAL, "cannot find processes in %s: it is the host's root", root);
    }
    /*
     * The quick way, for a command that ended within PLAT_SINCE_QUICK_MS:
     * every process it started has a pid from first to the last pid handed
     * out, since pids cannot have gone round pid_max in so short a time.
     * The range can also hold older processes (pids still in use are
     * skipped over, not reused) and threads (/proc/TID exists for every
     * thread, and kill(TID) would hit its whole process): the start time
     * and the thread group id sort those out.
     */
    last = s && now_ms() - s->at_ms < PLAT_SINCE_QUICK_MS ? last_pid() : 0;
    if (s && last >= s->first && last - s->first < PLAT_SINCE_QUICK_PIDS) {
        for (pid_t pid = s->first; pid <= last; pid++) {
            snprintf(name, sizeof(name), "/proc/%d", (int)pid);
            if (pid != self && proc_link(AT_FDCWD, name, "root", target, sizeof(target)) &&
                path_covers(canon, target) && started_since(AT_FDCWD, name, pid, s) &&
                proc_is_leader(AT_FDCWD, name, pid))
                pid_push(pids, n, &cap, pid);
        }
        free(canon);
        return 0;
    }
    d = opendir("/proc");
    if (!d) {
        int rc = err_sys(e, errno, "cannot read /proc");
        free(canon);
        return rc;
    }
    while ((de = readdir(d))) {
        pid_t pid = proc_pid(de->d_name);
        if (pid == 0 || pid == self ||
            !proc_link(dirfd(d), de->d_name, "root", target, sizeof(target)) ||
            !path_covers(canon, target) || (s && !started_since(dirfd(d), de->d_name, pid, s)))
            continue;
        pid_push(pids, n, &cap, pid);
    }
    closedir(d);
    free(canon);
    return 0;
}

int plat_find_pids(const char *root, pid_t **pids, size_t *n, struct err *e)
{
    return find_pids(root, NULL, pids, n, e);
}

int plat_find_pids_since(const char *root, const struct plat_since *s, pid_t **pids, size_t *n,
                         struct err *e)
{
    return find_pids(root, s, pids, n, e);
}

/* True when a mapping line of /proc/PID/maps names a file at or below canon. */
static bool maps_line_under(const char *line, const char *canon)
{
    const char *p = line;

    /* address perms offset dev inode, then the path after spaces */
    for (int field = 0; field < 5; field++) {
        while (*p && *p != ' ')
            p++;
        while (*p == ' ')
            p++;
    }
    if (*p != '/')
        return false;
    return path_covers(canon, p);
}

/* True when process pid holds canon: root, cwd, an open file or a mapping. */
static bool proc_holds(int procfd, const char *pid, const char *canon)
{
    char target[PATH_MAX + 1], rel[NAME_MAX + 16];
    bool found = false;
    struct dirent *de;
    DIR *d;
    FILE *f;
    int fd;

    if ((proc_link(procfd, pid, "root", target, sizeof(target)) && path_covers(canon, target)) ||
        (proc_link(procfd, pid, "cwd", target, sizeof(target)) && path_covers(canon, target)))
        return true;
    snprintf(rel, sizeof(rel), "%s/fd", pid);
    fd = openat(procfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0 && (d = fdopendir(fd))) {
        while (!found && (de = readdir(d))) {
            ssize_t len;
            if (de->d_name[0] == '.')
                continue;
            len = readlinkat(dirfd(d), de->d_name, target, sizeof(target) - 1);
            if (len <= 0)
                continue;
            target[len] = '\0';
            found = path_covers(canon, target);
        }
        closedir(d);
    } else if (fd >= 0) {
        close(fd);
    }
    if (found)
        return true;
    snprintf(rel, sizeof(rel), "%s/maps", pid);
    fd = openat(procfd, rel, O_RDONLY | O_CLOEXEC);
    if (fd >= 0 && (f = fdopen(fd, "r"))) {
        char *line = NULL;
        size_t cap = 0;
        ssize_t len;
        while (!found && (len = getline(&line, &cap, f)) > 0) {
            if (line[len - 1] == '\n')
                line[len - 1] = '\0';
            found = maps_line_under(line, canon);
        }
        free(line);
        fclose(f);
    } else if (fd >= 0) {
        close(fd);
    }
    return found;
}

/* The command name of a process ("?" when it is gone). */
static void proc_comm(int procfd, const char *pid, char *out, size_t n)
{
    char rel[NAME_MAX + 16];
    ssize_t len;
    int fd;

    snprintf(out, n, "?");
    snprintf(rel, sizeof(rel), "%s/comm", pid);
    fd = openat(procfd, rel, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    len = read(fd, out, n - 1);
    close(fd);
    if (len <= 0) {
        snprintf(out, n, "?");
        return;
    }
    out[len] = '\0';
    out[strcspn(out, "\n")] = '\0';
}

void plat_describe_holders(const char *path, char *out, size_t n)
{
    struct strv who = {0};
    struct dirent *de;
    size_t pos = 0;
    char *canon;
    DIR *d;

    if (n == 0)
        return;
    out[0] = '\0';
    d = opendir("/proc");
    if (!d)
        return;
    canon = lx_canonical(path);
    while ((de = readdir(d))) {
        char comm[64];
        if (proc_pid(de->d_name) == 0 || !proc_holds(dirfd(d), de->d_name, canon))
            continue;
        proc_comm(dirfd(d), de->d_name, comm, sizeof(comm));
        strv_push_owned(&who, xasprintf("pid %s %s", de->d_name, comm));
    }
    closedir(d);
    free(canon);
    /* Whole entries only; ", ..." (or "...") says that some did not fit. */
    for (size_t i = 0; i < who.n; i++) {
        const char *sep = i ? ", " : "";
        size_t need = strlen(sep) + strlen(who.v[i]);
        size_t reserve = i + 1 < who.n ? 5 : 0;
        if (pos + need + reserve < n) {
            pos += (size_t)snprintf(out + pos, n - pos, "%s%s", sep, who.v[i]);
            continue;
        }
        if (pos + 5 < n)
            snprintf(out + pos, n - pos, "%s...", sep);
        break;
    }
    strv_free(&who);
}

void plat_kill_pids(const pid_t *pids, size_t n, int sig)
{
    /* pid 0, 1 and negative values would signal groups or init: never. */
    for (size_t i = 0; i < n; i++)
        if (pids[i] > 1)
            (void)kill(pids[i], sig);
}
#endif /* __linux__ */
