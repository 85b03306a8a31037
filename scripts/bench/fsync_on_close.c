/* LD_PRELOAD shim for benchmarks only: makes DCMTK's storescp fsync every file it wrote before
 * closing it, so it can be compared fairly with radrelay, which makes each object durable
 * before acknowledging it. storescp writes (and closes) the file before it sends the C-STORE-RSP,
 * so "fsync at close" is "fsync before the response".
 *
 * FSYNC_DIR=1 also fsyncs the file's directory after the close (storescp creates files in place,
 * so a new directory entry needs that second flush to survive power loss), and after a rename.
 * Without FSYNC_DIR nothing but the file itself is flushed.
 *
 * Build: gcc -shared -fPIC -O2 -o fsync_on_close.so fsync_on_close.c -ldl */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int (*real_close)(int) = NULL;

static int dir_too(void) {
    const char *v = getenv("FSYNC_DIR");
    return v && v[0] == '1';
}

static void fsync_directory_of(const char *path) {
    char copy[4096];
    strncpy(copy, path, sizeof copy - 1);
    copy[sizeof copy - 1] = 0;
    int dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        real_close(dfd);
    }
}

/* fsyncs `fd` (and its directory with FSYNC_DIR=1) if it is a regular file open for writing. */
static void sync_if_written(int fd) {
    struct stat st;
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0 && (flags & O_ACCMODE) != O_RDONLY && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        fsync(fd);
        if (dir_too()) {
            char link[64], path[4096];
            snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
            ssize_t n = readlink(link, path, sizeof path - 1);
            if (n > 0) {
                path[n] = 0;
                fsync_directory_of(path);
            }
        }
    }
}

int close(int fd) {
    if (!real_close) real_close = (int (*)(int))dlsym(RTLD_NEXT, "close");
    sync_if_written(fd);
    return real_close(fd);
}

/* DCMTK writes files through stdio (OFFile = fopen/fwrite/fclose), and glibc's fclose closes the
 * descriptor internally, never through the close() above: without this hook nothing is synced
 * (an earlier version of this shim made "storescp+fsync" identical to plain storescp). */
int fclose(FILE *stream) {
    static int (*real_fclose)(FILE *) = NULL;
    if (!real_fclose) real_fclose = (int (*)(FILE *))dlsym(RTLD_NEXT, "fclose");
    if (!real_close) real_close = (int (*)(int))dlsym(RTLD_NEXT, "close");
    if (stream) {
        int fd = fileno(stream);
        if (fd >= 0) {
            fflush(stream);
            sync_if_written(fd);
        }
    }
    return real_fclose(stream);
}

int rename(const char *from, const char *to) {
    static int (*real_rename)(const char *, const char *) = NULL;
    if (!real_rename) real_rename = (int (*)(const char *, const char *))dlsym(RTLD_NEXT, "rename");
    if (!real_close) real_close = (int (*)(int))dlsym(RTLD_NEXT, "close");
    int rc = real_rename(from, to);
    if (rc == 0 && dir_too()) fsync_directory_of(to);
    return rc;
}
