/*
 * Unpacking the bootstrap kit (pkgsrc.bootstrap, a gzip'd tar) into a
 * sandbox with libarchive before a build: permissions, setuid bits, numeric
 * ownership and times kept; absolute names, '..' and writes through
 * symlinks refused; hard links handled as tar(1) does, so that a kit can be
 * unpacked again over itself. The work never changes the working directory,
 * so it can run in the libuv thread pool, and it stops between entries when
 * cancelled.
 */
#ifndef BOB_BOOTSTRAP_H
#define BOB_BOOTSTRAP_H

#include <stdbool.h>
#include <uv.h>

#include "util/util.h"

/*
 * Synchronous core: unpacks the gzip'd (or any libarchive-readable) tar
 * `archive` into the existing directory `root`. Returns 0, -ECANCELED when
 * *cancel became true (checked between entries and between data blocks;
 * cancel may be NULL), or another negative value; e is filled on failure
 * with one line: "cannot open bootstrap <archive>: <reason>", "cannot unpack
 * <archive>: <entry>: <reason>", "cannot unpack <archive>: <reason>" or
 * "unpack of <archive> cancelled".
 */
int bootstrap_extract(const char *archive, const char *root, const volatile bool *cancel,
                      struct err *e);

struct unpack;

/* Called once on the loop: status 0, or negative with e filled (-ECANCELED when cancelled). */
typedef void (*unpack_cb)(struct unpack *u, int status, const struct err *e, void *data);

/*
 * Runs bootstrap_extract in the libuv thread pool; the callback runs on the
 * loop once, never from inside unpack_start. The strings are copied.
 * Returns NULL only if libuv refuses the work (it does not for valid
 * arguments).
 */
struct unpack *unpack_start(uv_loop_t *loop, const char *archive, const char *root, unpack_cb cb,
                            void *data);
/* Makes a running unpack stop between entries (-ECANCELED) or a queued one never start. */
void unpack_cancel(struct unpack *u);
/*
 * Frees after the callback ran (also from inside the callback). Called
 * earlier, it cancels the unpack, the callback is not called, and the memory
 * goes when the thread-pool work ends, so the loop must still be run.
 */
void unpack_free(struct unpack *u);

#endif
