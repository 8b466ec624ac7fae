/*
 * What a command run inside a sandbox gets: its environment under the
 * build or dev policy, and the bob_* variables.
 */
#ifndef BOB_EXEC_H
#define BOB_EXEC_H

#include "config/config.h"
#include "sandbox/sandbox.h"

/*
 * The environment of a command in a sandbox: with no environment section
 * for `which`, ours unchanged; with one, `clear` empties it and `inherit`
 * copies the named variables from ours; then its `vars`; then `extra`
 * ("K=V", such as the bob_* variables or a job's env) on top. Dev `vars`
 * are left out when `with_vars` is false (the shell gets them through its
 * init file, verbatim).
 */
void sandbox_env(const struct config *cfg, enum env_ctx which, bool with_vars,
                 const struct strv *extra, struct strv *out);

/*
 * The guest paths that every command in a sandbox finds covered by an empty
 * read-only tmpfs (proc_opts.cover): bob's own markers, so that no job can
 * remove, replace or plant what bob reads and removes. NULL-terminated.
 */
extern const char *const sandbox_cover[];

/* Quotes s for a POSIX shell inside double quotes ("...": \\, ", `, $ escaped). */
char *shell_dquote(const char *s);

#endif
