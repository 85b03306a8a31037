/* LD_PRELOAD shim for benchmarks only: makes DCMTK's storescp fsync every file it wrote before
 * closing it, so it can be compared fairly with radrelay, which makes each object durable
 * before acknowledging it. With FSYNC_DIR=1 it also fsyncs the file's directory (storescp
 * creates files in place, so a new directory entry needs that flush to survive power loss). */
#include <stdlib.h>
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int close(int fd) {
    static int (*real_close)(int) = NULL;
    if (!real_close) real_close = (int (*)(int))dlsym(RTLD_NEXT, "close");
    struct stat st;
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0 && (flags & O_ACCMODE) != O_RDONLY && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        fsync(fd);
        const char *dir_too = getenv("FSYNC_DIR");
        if (dir_too && dir_too[0] == '1') {
            char link[64], path[4096];
            snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
            ssize_t n = readlink(link, path, sizeof path - 1);
            if (n > 0) {
                path[n] = 0;
                int dfd = open(dirname(path), O_RDONLY | O_DIRECTORY);
                if (dfd >= 0) { fsync(dfd); real_close(dfd); }
            }
        }
    }
    return real_close(fd);
}

int rename(const char *from, const char *to) {
    static int (*real_rename)(const char *, const char *) = NULL;
    if (!real_rename) real_rename = (int (*)(const char *, const char *))dlsym(RTLD_NEXT, "rename");
    int rc = real_rename(from, to);
    if (rc == 0) {
        char copy[4096];
        strncpy(copy, to, sizeof copy - 1);
        copy[sizeof copy - 1] = 0;
        int dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
        if (dfd >= 0) { fsync(dfd); close(dfd); }
    }
    return rc;
}
