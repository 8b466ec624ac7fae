/*
 * Lexical path helpers: they look at the text of a path only, never at the
 * filesystem, so that the config loader (a simulated guest), the platform
 * layer (components to walk beneath a root) and archive extraction (member
 * names) agree on what "." , ".." and repeated slashes mean.
 */
#ifndef BOB_UTIL_PATH_H
#define BOB_UTIL_PATH_H

#include <stdbool.h>
#include <stddef.h>

struct strv;

/*
 * The next component of the path at *p: skips slashes and "." components,
 * points *comp at the component, advances *p past it and returns its
 * length; 0 at the end. ".." is returned like any other name.
 */
size_t path_next(const char **p, const char **comp);

/* True when the component of length n at c is "..". */
bool path_is_dotdot(const char *c, size_t n);

/*
 * Normalises path into out as an absolute path (a relative path is taken
 * from "/"): empty and "." components go, ".." removes the component before
 * it. Returns 0, -EXDEV when ".." climbs above "/", -ENAMETOOLONG when the
 * result does not fit in n bytes (out is then unspecified).
 */
int path_norm(const char *path, char *out, size_t n);

/* The absolute, normalised form of path, against the working directory when relative. */
char *path_absolute(const char *path);

/* True when path has a ".." component. */
bool path_has_dotdot(const char *path);

/* True when the normalised absolute path a is b or an ancestor of b ("/" covers all). */
bool path_covers(const char *a, const char *b);

/* Cuts the last component off the normalised path p ("/a/b" -> "/a", "/a" -> "/"). */
void path_parent(char *p);

/* Appends the components of path to comps, without empty and "." ones (".." stays). */
void path_split(const char *path, struct strv *comps);

#endif
