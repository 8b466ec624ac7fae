/*
 * The bootstrap kit unpacked once per build and given to each job as
 * overlays (platform.h, plat_kit_*), instead of unpacked into its sandbox
 * before the job and removed after it: a mount and an unmount per target
 * instead of thousands of files written and removed. PREFIX and the
 * package databases, the targets, are only known once pkgsrc has answered
 * in the first pre-build (which unpacks as before); sandbox_kit_prepare
 * then unpacks the kit in the thread pool into a tmpfs mounted nowhere,
 * and checks that it holds nothing but the targets. Once ready, each
 * pre-build attaches it: each job starts from the kit as it is, and what a
 * job installed goes with the overlays. Where overlays cannot be had (no
 * new mount API, no overlayfs, a kit with files elsewhere, a mount at a
 * target) bob says so once and every job unpacks the kit as before.
 * BOB_NO_KIT_OVERLAY=1 turns the overlays off (for the benchmark).
 */
#ifndef BOB_KIT_H
#define BOB_KIT_H

#include <stdbool.h>

#include "sandbox/sandbox.h"

/* Where a sandbox's upper layers live, under /.bob, which no job sees. */
#define SANDBOX_KIT_UPPER "/.bob/kit"

/* After a pre-build learnt PREFIX: starts the unpack once, for a build of several jobs. */
void sandbox_kit_prepare(struct sbx_ctx *ctx);
/* Whether the kit is unpacked, checked and may be attached. */
bool sandbox_kit_ready(const struct sbx_ctx *ctx);
/*
 * Attaches the kit in the sandbox at root: 0, or negative (said once;
 * the kit is then never attached again and the caller unpacks it).
 */
int sandbox_kit_attach(struct sbx_ctx *ctx, const char *root);
/*
 * The kit's targets once the kit was asked for (NULL before): fixed from
 * then on, so that a post-build may take them on the loop and detach in
 * the thread pool.
 */
const struct strv *sandbox_kit_targets(const struct sbx_ctx *ctx);
/*
 * Undoes an attach in the sandbox at root (nothing when it had none):
 * unmounts the overlays at the targets and removes the upper layers. Runs
 * in the thread pool. 0, or negative with e set.
 */
int sandbox_kit_detach(const struct strv *targets, const char *root, struct err *e);
/* Frees the kit (at sandbox_ctx_free). */
void sandbox_kit_free(struct sbx_ctx *ctx);

#endif
