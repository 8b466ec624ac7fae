/*
 * The interactive shell of `bob sandbox shell`, the work of its pipeline:
 * /bin/sh runs /.bob-shell-init (the environment, then exec of the dev
 * shell), on a pty of the sandbox relayed to our terminal when it has its
 * own devpts, else on our terminal as it is.
 */
#ifndef BOB_DEVSHELL_H
#define BOB_DEVSHELL_H

#include <sys/types.h>

#include "sandbox/sandbox.h"

struct devshell;

/* The shell's init file, as the shell sees it (beside /.bob, which is covered). */
#define DEVSHELL_INIT "/.bob-shell-init"

/* The shell exited with status (proc_shell_status); our terminal is ours again. */
typedef void (*devshell_cb)(struct devshell *sh, int status, void *data);

/*
 * Writes <root>/.bob-shell-init: ctx's variables and bob_sandbox_id=id
 * exported, the dev vars verbatim, its own removal, then exec of the dev
 * shell (env.dev.shell, default /bin/sh) with -i.
 */
int devshell_write_init(const struct sbx_ctx *ctx, const char *root, unsigned id, struct err *e);
/* Starts the shell in root; NULL with e when it cannot start. */
struct devshell *devshell_start(struct sbx_ctx *ctx, const char *root, devshell_cb cb, void *data,
                                struct err *e);
/* The shell's first process (the launcher's init, which leads its process group). */
pid_t devshell_pid(const struct devshell *sh);
/* Frees it (in or after the callback). */
void devshell_free(struct devshell *sh);

#endif
