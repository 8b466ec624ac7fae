/*
 * libarchive, loaded with dlopen on first use. Linking it would load its
 * whole dependency chain (libxml2, ICU, libcrypto, compressors) at every
 * start of bob, which costs several milliseconds for every command, while
 * only a pre-build with a bootstrap kit needs it. Include this after
 * <archive.h> and <archive_entry.h>: the names below then call through the
 * loaded table.
 */
#ifndef BOB_ARCHIVE_DL_H
#define BOB_ARCHIVE_DL_H

#include <archive.h>
#include <archive_entry.h>

#include "util/util.h"

#define ARCHIVE_DL_FUNCTIONS(X)                                                                    \
    X(archive_entry_atime)                                                                         \
    X(archive_entry_atime_is_set)                                                                  \
    X(archive_entry_atime_nsec)                                                                    \
    X(archive_entry_copy_hardlink)                                                                 \
    X(archive_entry_copy_pathname)                                                                 \
    X(archive_entry_filetype)                                                                      \
    X(archive_entry_hardlink)                                                                      \
    X(archive_entry_mtime)                                                                         \
    X(archive_entry_mtime_is_set)                                                                  \
    X(archive_entry_mtime_nsec)                                                                    \
    X(archive_entry_pathname)                                                                      \
    X(archive_entry_size)                                                                          \
    X(archive_entry_size_is_set)                                                                   \
    X(archive_errno)                                                                               \
    X(archive_error_string)                                                                        \
    X(archive_read_data_block)                                                                     \
    X(archive_read_free)                                                                           \
    X(archive_read_new)                                                                            \
    X(archive_read_next_header)                                                                    \
    X(archive_read_open_fd)                                                                        \
    X(archive_read_support_filter_all)                                                             \
    X(archive_read_support_format_tar)                                                             \
    X(archive_write_close)                                                                         \
    X(archive_write_data_block)                                                                    \
    X(archive_write_disk_new)                                                                      \
    X(archive_write_disk_set_options)                                                              \
    X(archive_write_disk_set_skip_file)                                                            \
    X(archive_write_finish_entry)                                                                  \
    X(archive_write_free)                                                                          \
    X(archive_write_header)

struct archive_dl {
#define ARCHIVE_DL_FIELD(name) __typeof__(name) *name;
    ARCHIVE_DL_FUNCTIONS(ARCHIVE_DL_FIELD)
#undef ARCHIVE_DL_FIELD
};

extern struct archive_dl archive_dl;

/* Loads libarchive once (thread-safe); 0, or -1 with e saying why. */
int archive_dl_load(struct err *e);

#ifndef ARCHIVE_DL_IMPL
#define archive_entry_atime (archive_dl.archive_entry_atime)
#define archive_entry_atime_is_set (archive_dl.archive_entry_atime_is_set)
#define archive_entry_atime_nsec (archive_dl.archive_entry_atime_nsec)
#define archive_entry_copy_hardlink (archive_dl.archive_entry_copy_hardlink)
#define archive_entry_copy_pathname (archive_dl.archive_entry_copy_pathname)
#define archive_entry_filetype (archive_dl.archive_entry_filetype)
#define archive_entry_hardlink (archive_dl.archive_entry_hardlink)
#define archive_entry_mtime (archive_dl.archive_entry_mtime)
#define archive_entry_mtime_is_set (archive_dl.archive_entry_mtime_is_set)
#define archive_entry_mtime_nsec (archive_dl.archive_entry_mtime_nsec)
#define archive_entry_pathname (archive_dl.archive_entry_pathname)
#define archive_entry_size (archive_dl.archive_entry_size)
#define archive_entry_size_is_set (archive_dl.archive_entry_size_is_set)
#define archive_errno (archive_dl.archive_errno)
#define archive_error_string (archive_dl.archive_error_string)
#define archive_read_data_block (archive_dl.archive_read_data_block)
#define archive_read_free (archive_dl.archive_read_free)
#define archive_read_new (archive_dl.archive_read_new)
#define archive_read_next_header (archive_dl.archive_read_next_header)
#define archive_read_open_fd (archive_dl.archive_read_open_fd)
#define archive_read_support_filter_all (archive_dl.archive_read_support_filter_all)
#define archive_read_support_format_tar (archive_dl.archive_read_support_format_tar)
#define archive_write_close (archive_dl.archive_write_close)
#define archive_write_data_block (archive_dl.archive_write_data_block)
#define archive_write_disk_new (archive_dl.archive_write_disk_new)
#define archive_write_disk_set_options (archive_dl.archive_write_disk_set_options)
#define archive_write_disk_set_skip_file (archive_dl.archive_write_disk_set_skip_file)
#define archive_write_finish_entry (archive_dl.archive_write_finish_entry)
#define archive_write_free (archive_dl.archive_write_free)
#define archive_write_header (archive_dl.archive_write_header)
#endif

#endif
