/*
 * A sandbox's own cgroup for the host commands of its actions, kept across
 * bob processes (cgroup.h, cgroup_sandbox_open): what such a command leaves
 * running is killed by the sandbox's destroy, whichever bob runs it.
 */
#include "platform/cgroup.h"
#include "platform/linux_cgroup_int.h"
#include "platform/linux_int.h"

#include <ctype.h>
#include <linux/magic.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

/* Where cgroup v2 is mounted: a pure v2 host, and a hybrid one (systemd's "unified"). */
static const char *const cgroup_v2_places[] = {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"};

/* *dir: the directory of sandbox cgroup `key` (malloc'd); -ENOTSUP without a writable cgroup v2. */
static int cgroup_sandbox_dir(const char *key, char **dir, struct err *e)
{
    struct cgroup_mount v2m = {0}, v1m[CGV1_N] = {{0}};
    const char *env = getenv("BOB_NO_CGROUP");
    bool ok = key && *key;
    int r = 0;
    *dir = NULL;
    for (const char *p = key; ok && *p; p++)
        ok = isalnum((unsigned char)*p) || *p == '-' || *p == '_';
    if (!ok)
        return lx_err(e, EINVAL, "cgroup: bad sandbox key \"%s\"", key ? key : "");
    if (env && *env && strcmp(env, "0") != 0)
        return lx_err(e, ENOTSUP, "cgroup: disabled by BOB_NO_CGROUP");
    /* The usual places first: a statfs each instead of a read of the whole mount table. */
    for (size_t i = 0; i < sizeof(cgroup_v2_places) / sizeof(cgroup_v2_places[0]); i++) {
        struct statfs sf;
        if (statfs(cgroup_v2_places[i], &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC) {
            v2m.point = xstrdup(cgroup_v2_places[i]);
            break;
        }
    }
    if ((v2m.point || (cg_find_mounts(&v2m, v1m) == 0 && v2m.point)) &&
        cg_exists(v2m.point, "cgroup.procs") && access(v2m.point, W_OK) == 0)
        *dir = xasprintf("%s/bob-sandboxes/%s", v2m.point, key);
    else
        r = lx_err(e, ENOTSUP, "cgroup: no writable cgroup v2");
    free(v2m.point);
    free(v2m.root);
    for (int c = 0; c < CGV1_N; c++) {
        free(v1m[c].point);
        free(v1m[c].root);
    }
    return r;
}

/* Makes (or finds) the sandbox cgroup `key`, or its child `sub` when not NULL, and adopts it. */
static int cgroup_sandbox_make(const char *key, const char *sub, struct cgroup_job **out,
                               struct err *e)
{
    char *dir, *parent, *path;
    int r;
    *out = NULL;
    if ((r = cgroup_sandbox_dir(key, &dir, e)) < 0)
        return r;
    parent = xstrndup(dir, (size_t)(strrchr(dir, '/') - dir));
    path = sub ? xasprintf("%s/%s", dir, sub) : xstrdup(dir);
    /* Mostly there already: one mkdir that says so, and the parents only when it is not. */
    if (mkdir(path, 0755) < 0 && errno != EEXIST &&
        ((mkdir(parent, 0755) < 0 && errno != EEXIST) ||
         (mkdir(dir, 0755) < 0 && errno != EEXIST) ||
         (sub && mkdir(path, 0755) < 0 && errno != EEXIST)))
        r = lx_err(e, errno, "cgroup: cannot make %s: %s", path, strerror(errno));
    else if ((r = cg_job_adopt(path, out)) < 0)
        r = lx_err(e, -r, "cgroup: cannot open %s: %s", path, strerror(-r));
    free(parent);
    free(dir);
    free(path);
    return r;
}

int cgroup_sandbox_open(const char *key, struct cgroup_job **out, struct err *e)
{
    return cgroup_sandbox_make(key, NULL, out, e);
}

int cgroup_sandbox_cmd(const char *key, struct cgroup_job **out, struct err *e)
{
    int r = cgroup_sandbox_make(key, "cmd", out, e);
    if (r == 0)
        (*out)->keep = true;
    return r;
}

int cgroup_sandbox_kill(const char *key, int wait_ms, struct err *e)
{
    struct err ign;
    char *dir;
    int r;
    if (cgroup_sandbox_dir(key, &dir, &ign) < 0)
        return 0;
    if (access(dir, F_OK) != 0)
        r = 0;
    else if ((r = cg_kill(dir)) < 0 && r != -ENOENT)
        r = lx_err(e, -r, "cgroup: cannot kill %s: %s", dir, strerror(-r));
    else if ((r = cg_wait_empty(dir, wait_ms)) < 0)
        r = lx_err(e, r == -ETIMEDOUT ? EBUSY : -r, "cgroup: %s: %s", dir,
                   r == -ETIMEDOUT ? "processes remain after the kill" : strerror(-r));
    else if ((r = cg_remove_tree(dir)) < 0) /* with its commands' child */
        r = lx_err(e, -r, "cgroup: cannot remove %s: %s", dir, strerror(-r));
    free(dir);
    return r;
}

void cgroup_sandbox_key(const char *root, char out[CGROUP_SANDBOX_KEY_LEN])
{
    snprintf(out, CGROUP_SANDBOX_KEY_LEN, "s%016llx", (unsigned long long)str_fnv1a(root));
}
