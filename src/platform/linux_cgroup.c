/*
 * Linux cgroups, part one: discovery, bob's base cgroup, leftovers. Jobs
 * and limits are in linux_cgroup_job.c.
 *
 * Where the base lives. Every bob's base is <v2 mount>/bob/<pid>-<start>,
 * right below the cgroup2 mount (the root of bob's cgroup namespace), and
 * not below bob's own cgroup. bob runs as root, and its own cgroup is
 * typically a login session's scope or a service that holds processes
 * (bob's shell, bob itself): the "no internal processes" rule forbids
 * enabling memory and pids for children of such a node, and moving bob
 * out of it would change a cgroup systemd manages. Below the root, bob
 * itself never moves, the nodes bob makes (bob/, bob/<id>/) hold no
 * process, and only the leaves (jobs) do, so the controllers can be
 * enabled on a systemd pure-v2 host as on this hybrid one. The price is
 * that a job is not counted in the limits of the session that started
 * bob, as with docker's cgroupfs driver.
 *
 * The v1 hierarchies (memory, pids on a hybrid host) work the other way:
 * the parallel bob/<id>/<job> directories are made below bob's own v1
 * cgroup, so that whatever limits the host put on bob still apply.
 *
 * Liveness without pids. A base is held with flock on its directory for
 * as long as bob lives; the kernel drops the lock when bob dies, however
 * it dies. cgroup_sweep takes the lock of each base it finds: when it
 * gets it, the base is stale. This holds across pid namespaces (tests run
 * bob in its own), where a pid and its start time would name another
 * process. Creating, sweeping and removing the shared bob/ directories is
 * done holding a lock on bob/ itself, so a sweep never sees a base that
 * is made but not yet locked.
 */
#ifdef __linux__

#include "platform/cgroup.h"
#include "platform/linux_cgroup_int.h"
#include "platform/linux_int.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const cgroup_v1_names[CGV1_N] = {"memory", "pids"};

/* ---- small file helpers ---- */

int cg_write(const char *dir, const char *file, const char *s)
{
    char *p = xasprintf("%s/%s", dir, file);
    int fd = open(p, O_WRONLY | O_CLOEXEC), r = 0;
    free(p);
    if (fd < 0)
        return -errno;
    if (write(fd, s, strlen(s)) < 0)
        r = -errno;
    close(fd);
    return r;
}

int cg_read(const char *dir, const char *file, char *buf, size_t n)
{
    char *p = xasprintf("%s/%s", dir, file);
    int fd = open(p, O_RDONLY | O_CLOEXEC), r = 0;
    ssize_t got;
    free(p);
    if (fd < 0)
        return -errno;
    got = read(fd, buf, n - 1);
    if (got < 0)
        r = -errno;
    else
        buf[got] = '\0';
    close(fd);
    return r;
}

int cg_kill(const char *dir)
{
    char buf[256];
    /*
     * An empty cgroup stays empty: a process enters only by a fork inside
     * it or by a write to cgroup.procs, which a job cannot reach. Skipping
     * the kill then saves its freezer pass, 30 to 40 us of every command.
     */
    if (cg_read(dir, "cgroup.events", buf, sizeof(buf)) == 0 && cgroup_parse_populated(buf) == 0)
        return 1;
    return cg_write(dir, "cgroup.kill", "1");
}

bool cg_exists(const char *dir, const char *file)
{
    char *p = xasprintf("%s/%s", dir, file);
    bool r = access(p, F_OK) == 0;
    free(p);
    return r;
}

int cgroup_parse_key(const char *text, const char *key, uint64_t *v)
{
    size_t kl = strlen(key);
    for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        if (strncmp(l, key, kl) == 0 && l[kl] == ' ') {
            char *end;
            unsigned long long x;
            errno = 0;
            x = strtoull(l + kl + 1, &end, 10);
            if (errno || end == l + kl + 1 || (*end != '\n' && *end != '\0'))
                return -EINVAL;
            *v = x;
            return 0;
        }
    }
    return -ENOENT;
}

int cgroup_parse_populated(const char *text)
{
    uint64_t v;
    if (cgroup_parse_key(text, "populated", &v) < 0 || v > 1)
        return -EINVAL;
    return (int)v;
}

/* Whether the space-separated (or comma-separated) list has the word. */
static bool cgroup_has_word(const char *list, const char *word, const char *seps)
{
    size_t wl = strlen(word);
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, seps);
        if (n == wl && strncmp(p, word, wl) == 0)
            return true;
        p += n;
        p += strspn(p, seps);
    }
    return false;
}

/* ---- waiting and removal ---- */

int cg_wait_empty(const char *dir, int wait_ms)
{
    char *p = xasprintf("%s/cgroup.events", dir);
    int fd = open(p, O_RDONLY | O_CLOEXEC), r;
    double deadline = now_ms() + wait_ms;
    free(p);
    if (fd < 0)
        return errno == ENOENT ? 0 : -errno; /* removed: empty */
    for (;;) {
        char buf[256];
        ssize_t got = pread(fd, buf, sizeof(buf) - 1, 0);
        struct pollfd pfd = {.fd = fd, .events = POLLPRI};
        double left;
        if (got < 0) {
            r = -errno;
            break;
        }
        buf[got] = '\0';
        r = cgroup_parse_populated(buf);
        if (r <= 0)
            break;
        left = deadline - now_ms();
        if (left <= 0) {
            r = -ETIMEDOUT;
            break;
        }
        /* The kernel flags a change of cgroup.events with POLLPRI (kernfs_notify). */
        if (poll(&pfd, 1, (int)left + 1) < 0 && errno != EINTR) {
            r = -errno;
            break;
        }
    }
    close(fd);
    return r;
}

int cg_remove_tree(const char *dir)
{
    DIR *d;
    struct dirent *de;
    int r = 0;
    /* Mostly a leaf: one rmdir, and the walk only when it has children. */
    if (rmdir(dir) == 0 || errno == ENOENT)
        return 0;
    if (errno != ENOTEMPTY && errno != EBUSY && errno != EEXIST)
        return -errno;
    d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : -errno;
    while ((de = readdir(d))) {
        char *sub;
        int rr;
        if (de->d_type != DT_DIR || strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        sub = xasprintf("%s/%s", dir, de->d_name);
        rr = cg_remove_tree(sub);
        free(sub);
        if (rr < 0 && r == 0)
            r = rr;
    }
    closedir(d);
    if (r == 0 && rmdir(dir) < 0 && errno != ENOENT)
        r = -errno;
    return r;
}

void cg_kill_v1_tree(const char *dir)
{
    DIR *d;
    struct dirent *de;
    char *p = xasprintf("%s/cgroup.procs", dir);
    FILE *f = fopen(p, "re");
    free(p);
    if (f) {
        long pid;
        while (fscanf(f, "%ld", &pid) == 1)
            if (pid > 0)
                kill((pid_t)pid, SIGKILL);
        fclose(f);
    }
    if (!(d = opendir(dir)))
        return;
    while ((de = readdir(d))) {
        if (de->d_type != DT_DIR || de->d_name[0] == '.')
            continue;
        p = xasprintf("%s/%s", dir, de->d_name);
        cg_kill_v1_tree(p);
        free(p);
    }
    closedir(d);
}

/* ---- discovery ---- */

/* (linux_cgroup_int.h) */
int cg_find_mounts(struct cgroup_mount *v2, struct cgroup_mount v1[CGV1_N])
{
    FILE *f = fopen("/proc/self/mountinfo", "re");
    char *line = NULL;
    size_t cap = 0;
    if (!f)
        return -errno;
    while (getline(&line, &cap, f) > 0) {
        char *f_[7], *save = NULL, *sep = strstr(line, " - ");
        char *fstype, *super;
        int i = 0;
        if (!sep)
            continue;
        *sep = '\0';
        for (char *t = strtok_r(line, " ", &save); t && i < 7; t = strtok_r(NULL, " ", &save))
            f_[i++] = t;
        if (i < 6)
            continue;
        save = NULL;
        fstype = strtok_r(sep + 3, " ", &save);
        (void)strtok_r(NULL, " ", &save); /* source */
        super = strtok_r(NULL, " \n", &save);
        if (!fstype || !super)
            continue;
        lx_unescape(f_[3]);
        lx_unescape(f_[4]);
        if (strcmp(fstype, "cgroup2") == 0 && !v2->point && strcmp(f_[3], "/") == 0) {
            v2->point = xstrdup(f_[4]);
            v2->root = xstrdup(f_[3]);
        } else if (strcmp(fstype, "cgroup") == 0) {
            for (int c = 0; c < CGV1_N; c++)
                if (!v1[c].point && cgroup_has_word(super, cgroup_v1_names[c], ",")) {
                    v1[c].point = xstrdup(f_[4]);
                    v1[c].root = xstrdup(f_[3]);
                }
        }
    }
    free(line);
    fclose(f);
    return 0;
}

/* Reads /proc/self/cgroup: bob's own v2 cgroup and its v1 memory and pids cgroups. */
static void cgroup_find_own(char **v2, char *v1[CGV1_N])
{
    FILE *f = fopen("/proc/self/cgroup", "re");
    char *line = NULL;
    size_t cap = 0;
    if (!f)
        return;
    while (getline(&line, &cap, f) > 0) {
        char *a = strchr(line, ':'), *b = a ? strchr(a + 1, ':') : NULL;
        if (!b)
            continue;
        line[strcspn(line, "\n")] = '\0';
        *b = '\0';
        if (strcmp(line, "0:") == 0) { /* "0::/path": the v2 hierarchy */
            if (!*v2)
                *v2 = xstrdup(b + 1);
            continue;
        }
        for (int c = 0; c < CGV1_N; c++)
            if (!v1[c] && cgroup_has_word(a + 1, cgroup_v1_names[c], ","))
                v1[c] = xstrdup(b + 1);
    }
    free(line);
    fclose(f);
}

/* This process's start time in clock ticks since boot (field 22 of /proc/self/stat). */
static unsigned long long cgroup_self_start(void)
{
    char buf[1024];
    unsigned long long st = 0;
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
    char *p;
    if (fd >= 0)
        close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    if (!(p = strrchr(buf, ')')))
        return 0;
    /* After ")": state is field 3, so start time is the 20th field from here. */
    for (int i = 0; i < 20 && p; i++)
        p = strchr(p + 1, ' ');
    if (p)
        st = strtoull(p + 1, NULL, 10);
    return st;
}

/*
 * Opens and locks (exclusively, waiting) the shared directory dir (<v2>/bob),
 * creating it when missing; retries when another bob removed it between our
 * open and our lock. Returns the locked fd or a negative errno.
 */
static int cgroup_lock_parent(const char *dir)
{
    for (int tries = 0; tries < 10; tries++) {
        struct stat a, b;
        int fd;
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
            return -errno;
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
            if (errno == ENOENT)
                continue;
            return -errno;
        }
        if (flock(fd, LOCK_EX) < 0) {
            int r = -errno;
            close(fd);
            return r;
        }
        if (fstat(fd, &a) == 0 && stat(dir, &b) == 0 && a.st_ino == b.st_ino &&
            a.st_dev == b.st_dev)
            return fd;
        close(fd); /* removed (and maybe made again) meanwhile */
    }
    return -EAGAIN;
}

/* Removes the shared directory (<v2>/bob or a v1 one) when it is empty; parent lock held. */
static void cgroup_prune_parent(const char *dir)
{
    if (dir && rmdir(dir) < 0 && errno != ENOENT && errno != EBUSY && errno != ENOTEMPTY)
        log_debug("cgroup: cannot remove %s: %s", dir, strerror(errno));
}

/* Enables controller name ("memory") in dir/cgroup.subtree_control; true when it is on. */
static bool cgroup_enable(const char *dir, const char *name)
{
    char buf[512], plus[32];
    snprintf(plus, sizeof(plus), "+%s", name);
    if (cg_read(dir, "cgroup.subtree_control", buf, sizeof(buf)) == 0 &&
        cgroup_has_word(buf, name, " \n"))
        return true;
    return cg_write(dir, "cgroup.subtree_control", plus) == 0;
}

static void cgroup_base_free(struct cgroup_base *b)
{
    if (!b)
        return;
    if (b->lockfd >= 0)
        close(b->lockfd);
    free(b->mount);
    free(b->own);
    free(b->parent);
    free(b->id);
    free(b->path);
    for (int c = 0; c < CGV1_N; c++) {
        free(b->v1_parent[c]);
        free(b->v1_path[c]);
    }
    free(b);
}

/* The v1 directory for controller c below bob's own v1 cgroup, or NULL. */
static char *cgroup_v1_dir(const struct cgroup_mount *m, const char *own)
{
    const char *rel = own;
    if (!m->point || !own)
        return NULL;
    /* A mount of a subtree (a container's): own is below the mount's root. */
    if (strcmp(m->root, "/") != 0) {
        size_t rl = strlen(m->root);
        rel = strncmp(own, m->root, rl) == 0 && (own[rl] == '/' || own[rl] == '\0') ? own + rl : "";
    }
    if (!rel[0])
        rel = "/";
    return xasprintf("%s%s%sbob", m->point, rel, rel[strlen(rel) - 1] != '/' ? "/" : "");
}

/*
 * Makes the v1 directories of the base (<own v1 cgroup>/bob/<id>) for the
 * limits v2 cannot give. A hierarchy that cannot be written is left out:
 * cgroup_base_limits then does not offer its limit.
 */
static void cgroup_base_v1(struct cgroup_base *b, struct cgroup_mount v1m[CGV1_N],
                           char *v1own[CGV1_N])
{
    for (int c = 0; c < CGV1_N; c++) {
        unsigned bit = c == CGV1_MEMORY ? CGROUP_LIMIT_MEMORY : CGROUP_LIMIT_TASKS;
        char *parent, *path;
        if (b->v2 & bit)
            continue;
        if (!(parent = cgroup_v1_dir(&v1m[c], v1own[c])))
            continue;
        path = xasprintf("%s/%s", parent, b->id);
        if ((mkdir(parent, 0755) < 0 && errno != EEXIST) || mkdir(path, 0755) < 0) {
            log_debug("cgroup: v1 %s not usable at %s: %s", cgroup_v1_names[c], path,
                      strerror(errno));
            free(parent);
            free(path);
            continue;
        }
        b->v1_parent[c] = parent;
        b->v1_path[c] = path;
        if (c == CGV1_MEMORY)
            b->memsw = cg_exists(path, "memory.memsw.limit_in_bytes");
    }
}

int cgroup_base_open(struct cgroup_base **out, struct err *e)
{
    struct cgroup_mount v2m = {0}, v1m[CGV1_N] = {{0}};
    char *v1own[CGV1_N] = {0}, avail[512] = "";
    const char *env = getenv("BOB_NO_CGROUP");
    struct cgroup_base *b;
    int r, pfd = -1;

    *out = NULL;
    if (env && *env && strcmp(env, "0") != 0)
        return lx_err(e, ENOTSUP, "cgroup: disabled by BOB_NO_CGROUP");
    b = xcalloc(1, sizeof(*b));
    b->lockfd = -1;
    if ((r = cg_find_mounts(&v2m, v1m)) < 0) {
        lx_err(e, -r, "cgroup: cannot read /proc/self/mountinfo: %s", strerror(-r));
        goto fail;
    }
    if (!v2m.point) {
        r = lx_err(e, ENOTSUP, "cgroup: no cgroup2 file system is mounted");
        goto fail;
    }
    cgroup_find_own(&b->own, v1own);
    b->mount = xstrdup(v2m.point);
    b->parent = xasprintf("%s/bob", b->mount);
    if (!cg_exists(b->mount, "cgroup.procs") || access(b->mount, W_OK) < 0) {
        r = lx_err(e, ENOTSUP, "cgroup: %s cannot be written", b->mount);
        goto fail;
    }
    if ((pfd = cgroup_lock_parent(b->parent)) < 0) {
        r = lx_err(e, ENOTSUP, "cgroup: cannot make %s: %s", b->parent, strerror(-pfd));
        goto fail;
    }
    cg_read(b->mount, "cgroup.controllers", avail, sizeof(avail));
    for (int i = 0;; i++) {
        char *id = i == 0 ? xasprintf("%ld-%llu", (long)getpid(), cgroup_self_start())
                          : xasprintf("%ld-%llu.%d", (long)getpid(), cgroup_self_start(), i);
        char *path = xasprintf("%s/%s", b->parent, id);
        if (mkdir(path, 0755) == 0) {
            b->id = id;
            b->path = path;
            break;
        }
        r = -errno;
        free(id);
        free(path);
        if (r != -EEXIST || i == 100) {
            lx_err(e, ENOTSUP, "cgroup: cannot make a cgroup in %s: %s", b->parent, strerror(-r));
            r = -ENOTSUP;
            goto fail;
        }
    }
    b->lockfd = open(b->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (b->lockfd < 0 || flock(b->lockfd, LOCK_EX | LOCK_NB) < 0) {
        r = lx_err(e, ENOTSUP, "cgroup: cannot lock %s: %s", b->path, strerror(errno));
        rmdir(b->path);
        goto fail;
    }
    if (!cg_exists(b->path, "cgroup.kill")) {
        r = lx_err(e, ENOTSUP, "cgroup: %s has no cgroup.kill (kernel before 5.14)", b->path);
        rmdir(b->path);
        goto fail;
    }
    /* The controllers go down every level: the mount, bob/, bob/<id>/. */
    for (int c = 0; c < CGV1_N; c++) {
        unsigned bit = c == CGV1_MEMORY ? CGROUP_LIMIT_MEMORY : CGROUP_LIMIT_TASKS;
        const char *name = cgroup_v1_names[c];
        if (cgroup_has_word(avail, name, " \n") && cgroup_enable(b->mount, name) &&
            cgroup_enable(b->parent, name) && cgroup_enable(b->path, name))
            b->v2 |= bit;
    }
    cgroup_base_v1(b, v1m, v1own);
    close(pfd);
    r = 0;
    *out = b;
    b = NULL;
fail:
    if (b) {
        if (pfd >= 0) {
            cgroup_prune_parent(b->parent);
            close(pfd);
        }
        cgroup_base_free(b);
    }
    free(v2m.point);
    free(v2m.root);
    for (int c = 0; c < CGV1_N; c++) {
        free(v1m[c].point);
        free(v1m[c].root);
        free(v1own[c]);
    }
    return r;
}

int cgroup_base_close(struct cgroup_base *b, int wait_ms, struct err *e)
{
    int r = 0, rr, pfd;
    if (!b)
        return 0;
    if ((rr = cg_kill(b->path)) < 0 && rr != -ENOENT)
        r = lx_err(e, -rr, "cgroup: cannot kill %s: %s", b->path, strerror(-rr));
    if (rr != 1) /* 1: it was empty already */
        rr = cg_wait_empty(b->path, wait_ms);
    else
        rr = 0;
    if (rr < 0 && r == 0)
        r = lx_err(e, rr == -ETIMEDOUT ? EBUSY : -rr, "cgroup: %s still has processes after %d ms",
                   b->path, wait_ms);
    pfd = cgroup_lock_parent(b->parent);
    for (int c = 0; c < CGV1_N; c++) {
        if (!b->v1_path[c])
            continue;
        cg_kill_v1_tree(b->v1_path[c]); /* processes that never entered v2 */
        if ((rr = cg_remove_tree(b->v1_path[c])) < 0 && r == 0)
            r = lx_err(e, -rr, "cgroup: cannot remove %s: %s", b->v1_path[c], strerror(-rr));
        if (pfd >= 0)
            cgroup_prune_parent(b->v1_parent[c]);
    }
    if (r == 0 && (rr = cg_remove_tree(b->path)) < 0)
        r = lx_err(e, -rr, "cgroup: cannot remove %s: %s", b->path, strerror(-rr));
    if (pfd >= 0) {
        cgroup_prune_parent(b->parent);
        close(pfd);
    }
    cgroup_graves_forget(); /* removed with the base above */
    cgroup_base_free(b);
    return r;
}

unsigned cgroup_base_limits(const struct cgroup_base *b)
{
    unsigned l;
    if (!b)
        return 0;
    l = b->v2;
    if (b->v1_path[CGV1_MEMORY])
        l |= CGROUP_LIMIT_MEMORY;
    if (b->v1_path[CGV1_PIDS])
        l |= CGROUP_LIMIT_TASKS;
    return l;
}

void cgroup_base_describe(const struct cgroup_base *b, char *out, size_t n)
{
    const char *how[CGV1_N];
    if (!b) {
        snprintf(out, n, "no cgroup v2: memory and task limits cannot be enforced");
        return;
    }
    for (int c = 0; c < CGV1_N; c++) {
        unsigned bit = c == CGV1_MEMORY ? CGROUP_LIMIT_MEMORY : CGROUP_LIMIT_TASKS;
        how[c] = (b->v2 & bit) ? "v2" : b->v1_path[c] ? "v1" : "not enforceable";
    }
    snprintf(out, n, "cgroup v2 at %s; memory limits: %s, task limits: %s", b->path,
             how[CGV1_MEMORY], how[CGV1_PIDS]);
}

const char *cgroup_base_path(const struct cgroup_base *b)
{
    return b->path;
}

/* ---- leftovers ---- */

/* Whether the directory dir/name is one of names. */
static bool cgroup_in(const struct strv *names, const char *name)
{
    return strv_contains(names, name);
}

/*
 * Under the parent lock: kills each base in b->parent that no bob holds
 * (we take its lock and keep it in *locks) and lists the names.
 */
static void cgroup_find_stale(const struct cgroup_base *b, struct strv *stale, int *locks,
                              size_t max)
{
    DIR *d = opendir(b->parent);
    struct dirent *de;
    if (!d)
        return;
    while ((de = readdir(d))) {
        char *p;
        int fd;
        if (de->d_type != DT_DIR || de->d_name[0] == '.' || strcmp(de->d_name, b->id) == 0)
            continue;
        p = xasprintf("%s/%s", b->parent, de->d_name);
        fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0 && stale->n < max) {
            /* Nobody holds it: its bob is gone. */
            locks[stale->n] = fd;
            strv_push(stale, de->d_name);
            if (cg_write(p, "cgroup.kill", "1") < 0)
                log_debug("cgroup: cannot kill %s: %s", p, strerror(errno));
        } else if (fd >= 0) {
            close(fd);
        }
        free(p);
    }
    closedir(d);
}

/* Under the parent lock: the v1 bases whose v2 base is stale or gone, killed. */
static void cgroup_find_stale_v1(const struct cgroup_base *b, const char *v1parent,
                                 const struct strv *stale, struct strv *out)
{
    DIR *d = opendir(v1parent);
    struct dirent *de;
    if (!d)
        return;
    while ((de = readdir(d))) {
        char *p;
        if (de->d_type != DT_DIR || de->d_name[0] == '.' || strcmp(de->d_name, b->id) == 0)
            continue;
        if (!cgroup_in(stale, de->d_name) && cg_exists(b->parent, de->d_name))
            continue; /* its bob lives */
        p = xasprintf("%s/%s", v1parent, de->d_name);
        cg_kill_v1_tree(p);
        strv_push_owned(out, p);
    }
    closedir(d);
}

#define CGROUP_SWEEP_MAX 256

int cgroup_sweep(const struct cgroup_base *b, int wait_ms, unsigned *found, struct err *e)
{
    struct strv stale = {0}, v1stale = {0};
    int locks[CGROUP_SWEEP_MAX], pfd, r = 0, rr;
    double deadline = now_ms() + wait_ms;

    if (found)
        *found = 0;
    if (!b)
        return 0;
    if ((pfd = cgroup_lock_parent(b->parent)) < 0)
        return lx_err(e, -pfd, "cgroup: cannot lock %s: %s", b->parent, strerror(-pfd));
    cgroup_find_stale(b, &stale, locks, CGROUP_SWEEP_MAX);
    for (int c = 0; c < CGV1_N; c++)
        if (b->v1_parent[c])
            cgroup_find_stale_v1(b, b->v1_parent[c], &stale, &v1stale);
    close(pfd);
    if (found)
        *found = (unsigned)stale.n;

    for (size_t i = 0; i < stale.n; i++) {
        char *p = xasprintf("%s/%s", b->parent, stale.v[i]);
        double left = deadline - now_ms();
        rr = cg_wait_empty(p, left > 0 ? (int)left : 0);
        if (rr == 0)
            rr = cg_remove_tree(p);
        if (rr < 0 && r == 0)
            r = lx_err(e, rr == -ETIMEDOUT ? EBUSY : -rr, "cgroup: cannot remove stale %s: %s", p,
                       rr == -ETIMEDOUT ? "processes remain" : strerror(-rr));
        close(locks[i]);
        free(p);
    }
    for (size_t i = 0; i < v1stale.n; i++) {
        /* v1 tells no event: its processes were killed above, and are in v2 too. */
        if ((rr = cg_remove_tree(v1stale.v[i])) < 0 && r == 0)
            r = lx_err(e, -rr, "cgroup: cannot remove stale %s: %s", v1stale.v[i], strerror(-rr));
    }
    strv_free(&stale);
    strv_free(&v1stale);
    return r;
}

#endif
