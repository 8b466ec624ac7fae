/* SHA-256 (FIPS 180-4), for the file hashes of a package's +BUILD_VERSION. */
#ifndef BOB_PKGSRC_SHA256_H
#define BOB_PKGSRC_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct sha256 {
    uint32_t h[8];
    uint64_t len;
    unsigned char buf[64];
    size_t nbuf;
};

void sha256_init(struct sha256 *c);
void sha256_update(struct sha256 *c, const void *data, size_t n);
/* The digest as 64 lowercase hex digits and a NUL. */
void sha256_hex(struct sha256 *c, char out[65]);
/* The hex digest of the file at path: 0, or -errno. */
int sha256_file(const char *path, char out[65]);

#endif
