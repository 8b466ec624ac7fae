/*
 * Unpacking the bootstrap kit (pkgsrc.bootstrap, a tar, gzip'd or with any
 * filter libarchive reads) into a sandbox with libarchive before a build:
 * permissions, setuid bits, numeric ownership (as root) and times kept;
 * absolute names, '..' and writes through symlinks refused; hard links
 * handled as tar(1) does, so that a kit can be unpacked again over itself.
 *
 * A kit is not trusted to stay inside the sandbox's own filesystem: device
 * nodes and sockets are refused, so is every entry (or hard link target)
 * that would land on another mount than the root's own (a bind of a host
 * directory, a tmpfs), any failed or short write fails the unpack naming
 * the entry, and the unpacked size is bounded so that a bomb stops early.
 *
 * The work never changes the working directory, so it can run in the libuv
 * thread pool, and it stops between entries (and data blocks) when
 * cancelled.
 */
#ifndef BOB_BOOTSTRAP_H
#define BOB_BOOTSTRAP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "util/util.h"

/*
 * The default bound on the unpacked size: max(BOOTSTRAP_MAX_FLOOR,
 * BOOTSTRAP_MAX_RATIO x the archive's size). gzip'd trees of binaries
 * unpack to 3-4 times their size and text-heavy ones to about 10, so 20
 * leaves room for any real kit, while gzip's own limit (about 1000:1) means
 * a bomb is stopped after some 2% of what it would write. The floor keeps
 * small kits (and a kit read from a pipe, whose size is unknown) from ever
 * meeting the bound.
 */
#define BOOTSTRAP_MAX_FLOOR ((size_t)64 << 20)
#define BOOTSTRAP_MAX_RATIO 20
/* Each entry counts at least this (its tar header): millions of empty files stop too. */
#define BOOTSTRAP_ENTRY_COST 512

/*
 * Synchronous core: unpacks the tar `archive` into the existing directory
 * `root`, writing at most max_bytes of data and entries (0: the default
 * above). Returns 0, -ECANCELED when *cancel became true (checked between
 * entries and between data blocks; cancel may be NULL), or another negative
 * value; e is filled on failure with one line: "cannot open bootstrap
 * <archive>: <reason>", "cannot unpack <archive>: <entry>: <reason>",
 * "cannot unpack <archive>: <reason>" or "unpack of <archive> cancelled".
 * The bound gives e->code EFBIG, a write error its errno (ENOSPC, EIO...),
 * a refused entry (device, other mount) EPERM or EXDEV. What was written
 * before a failure stays; removing it is the caller's.
 */
int bootstrap_extract(const char *archive, const char *root, size_t max_bytes,
                      const atomic_bool *cancel, struct err *e);

struct unpack;

/* Called once on the loop: status 0, or negative with e filled (-ECANCELED when cancelled). */
typedef void (*unpack_cb)(struct unpack *u, int status, const struct err *e, void *data);

/*
 * Runs bootstrap_extract (max_bytes as there) in the libuv thread pool; the callback runs on the
 * loop once, never from inside unpack_start. The strings are copied.
 * Returns NULL only if libuv refuses the work (it does not for valid
 * arguments).
 */
struct unpack *unpack_start(uv_loop_t *loop, const char *archive, const char *root,
                            size_t max_bytes, unpack_cb cb, void *data);
/* Makes a running unpack stop between entries (-ECANCELED) or a queued one never start. */
void unpack_cancel(struct unpack *u);
/*
 * Frees after the callback ran (also from inside the callback). Called
 * earlier, it cancels the unpack, the callback is not called, and the memory
 * goes when the thread-pool work ends, so the loop must still be run.
 */
void unpack_free(struct unpack *u);

#endif
