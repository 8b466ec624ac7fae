/* Lexical path helpers (see path.h). */
#include "util/path.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/util.h"

/* Skips "/" runs and "." components; ".." is a component like any other. */
size_t path_next(const char **p, const char **comp)
{
    const char *s = *p;

    for (;;) {
        const char *start;
        while (*s == '/')
            s++;
        if (!*s)
            break;
        start = s;
        while (*s && *s != '/')
            s++;
        if (s - start == 1 && start[0] == '.')
            continue;
        *p = s;
        *comp = start;
        return (size_t)(s - start);
    }
    *p = s;
    *comp = s;
    return 0;
}

/* True for exactly "..", not "..." nor "..x". */
bool path_is_dotdot(const char *c, size_t n)
{
    return n == 2 && c[0] == '.' && c[1] == '.';
}

/* Builds the result in place of out, one component at a time, checking room at each step. */
int path_norm(const char *path, char *out, size_t n)
{
    const char *p = path, *c;
    size_t len = 0, cl;

    if (n < 2)
        return -ENAMETOOLONG;
    out[0] = '\0';
    while ((cl = path_next(&p, &c))) {
        if (path_is_dotdot(c, cl)) {
            if (len == 0)
                return -EXDEV;
            while (out[len - 1] != '/')
                len--;
            out[--len] = '\0';
            continue;
        }
        if (len + 1 + cl + 1 > n)
            return -ENAMETOOLONG;
        out[len++] = '/';
        memcpy(out + len, c, cl);
        len += cl;
        out[len] = '\0';
    }
    if (len == 0)
        strcpy(out, "/");
    return 0;
}

/* Falls back to the path as given when the cwd is gone or the result is too long. */
char *path_absolute(const char *path)
{
    char cwd[PATH_MAX], norm[PATH_MAX];
    char *joined;

    if (path[0] == '/')
        joined = xstrdup(path);
    else if (getcwd(cwd, sizeof(cwd)))
        joined = xasprintf("%s/%s", cwd, path);
    else
        return xstrdup(path);
    if (path_norm(joined, norm, sizeof(norm)) != 0)
        return joined;
    free(joined);
    return xstrdup(norm);
}

/* Looks at whole components, so "a..b" and "..." do not count. */
bool path_has_dotdot(const char *path)
{
    const char *p = path, *c;
    size_t cl;

    while ((cl = path_next(&p, &c)))
        if (path_is_dotdot(c, cl))
            return true;
    return false;
}

/* A prefix test on component boundaries: "/a" covers "/a/b" but not "/ab". */
bool path_covers(const char *a, const char *b)
{
    size_t n = strlen(a);
    if (strcmp(a, "/") == 0)
        return b[0] == '/';
    return strncmp(a, b, n) == 0 && (b[n] == '\0' || b[n] == '/');
}

/* Cuts at the last slash, keeping "/" for a top-level path. */
void path_parent(char *p)
{
    char *slash = strrchr(p, '/');
    if (slash == p)
        p[1] = '\0';
    else if (slash)
        *slash = '\0';
}

/* Owned copies of each component, in order. */
void path_split(const char *path, struct strv *comps)
{
    const char *p = path, *c;
    size_t cl;

    while ((cl = path_next(&p, &c)))
        strv_push_owned(comps, xstrndup(c, cl));
}
