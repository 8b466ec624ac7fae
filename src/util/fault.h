/*
 * Fault points, for tests: BOB_FAULT makes the Nth system call of a kind
 * fail, or makes bob kill itself with SIGKILL at the Nth arrival at a named
 * step. Compiled in always; without BOB_FAULT each check is one load.
 *
 *   BOB_FAULT="mount:2"             the 2nd mount fails (EIO)
 *   BOB_FAULT="umount:1,copy:1"     several at once
 *   BOB_FAULT="kill@create.action:3"  SIGKILL before the 3rd setup action
 *
 * Kinds: mount, umount, copy, unlink, symlink (checked once each, at the
 * start of the platform function that does it: src/platform/platform.h),
 * mkdir (claiming a sandbox id), spawn, logwrite, newapi (config check's
 * look at mount options: the new mount API answers ENOSYS).
 * Steps: create.claim, create.root, create.rootmark, create.rootfill,
 * create.rootmove (mount(2) only), create.action, create.mark, destroy.unmark,
 * destroy.kill, destroy.action, destroy.sweep, destroy.remove, prebuild,
 * postbuild, build.stage, build.job, state.write, state.commit.
 */
#ifndef BOB_FAULT_H
#define BOB_FAULT_H

/* Reads BOB_FAULT; call once at start, before any thread-pool work. */
void fault_init(void);
/* 0, or the negative errno to fail with when this call of `kind` is the chosen one. */
int fault_check(const char *kind);
/* Kills the process with SIGKILL when this arrival at `step` is the chosen one. */
void fault_step(const char *step);

#endif
