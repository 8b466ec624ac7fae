/*
 * bob-enter: enters a sandbox and runs a command there.
 *
 *   bob-enter [-r ROOT] [-d DIR] [-u USER] -- CMD [ARG...]
 *
 * chroot(ROOT), chdir(DIR or "/"), then, with -u, the user's groups, gid
 * and uid (looked up on the host before the chroot), and exec CMD, looked
 * up in PATH inside the sandbox. The supervisor spawns it through libuv,
 * which cannot chroot in the child itself; libuv makes the new session.
 * It links only libc so that it costs one small exec.
 *
 * Exit status on its own failure: 125 (cannot enter), 126 (cannot
 * execute), 127 (command not found), like env(1) and chroot(8).
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void die(int status, const char *what, const char *arg)
{
    fprintf(stderr, "bob-enter: %s %s: %s\n", what, arg, strerror(errno));
    /* _exit: nothing to flush, and a sanitizer's exit hooks cannot work in a chroot. */
    _exit(status);
}

int main(int argc, char **argv)
{
    const char *root = NULL, *dir = "/", *user = NULL;
    struct passwd *pw = NULL;
    int opt;

    while ((opt = getopt(argc, argv, "+r:d:u:")) != -1) {
        switch (opt) {
        case 'r':
            root = optarg;
            break;
        case 'd':
            dir = optarg;
            break;
        case 'u':
            user = optarg;
            break;
        default:
            fprintf(stderr, "usage: bob-enter [-r ROOT] [-d DIR] [-u USER] -- CMD [ARG...]\n");
            return 125;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "bob-enter: no command\n");
        return 125;
    }
    if (user) {
        errno = 0;
        pw = getpwnam(user);
        if (!pw) {
            if (!errno)
                errno = ENOENT;
            die(125, "unknown user", user);
        }
    }
    if (root && chroot(root) != 0)
        die(125, "cannot chroot into", root);
    if (chdir(dir) != 0)
        die(125, "cannot change directory to", dir);
    if (pw) {
        if (initgroups(pw->pw_name, pw->pw_gid) != 0)
            die(125, "cannot set groups of", user);
        if (setgid(pw->pw_gid) != 0)
            die(125, "cannot set group of", user);
        if (setuid(pw->pw_uid) != 0)
            die(125, "cannot become", user);
        setenv("HOME", pw->pw_dir, 1);
        setenv("USER", pw->pw_name, 1);
        setenv("LOGNAME", pw->pw_name, 1);
    }
    execvp(argv[optind], argv + optind);
    die(errno == ENOENT ? 127 : 126, "cannot execute", argv[optind]);
    return 126;
}
