/*
 * replay_corpus.c - runs saved inputs through one fuzz target without
 * libFuzzer, so that any C compiler (the gcc build of CI) can re-run crash
 * reproducers and regression corpora.
 *
 *   replay_NAME FILE_OR_DIR...
 *
 * Each file (directories: each regular file in them, one level) is read
 * whole and passed to LLVMFuzzerTestOneInput once.  A failing invariant
 * aborts, as under the fuzzer; otherwise the exit status is 0, or 1 if an
 * argument could not be read.
 */
#include "core/compat.h"

#include <dirent.h>
#include <sys/stat.h>

#include "core/buf.h"
#include "fuzz.h"

static int run_file(const char *path, long *n)
{
    struct bch_buf b;
    char *copy;
    int rc;

    bch_buf_init(&b, 64u << 20);
    rc = bch_buf_read_file(&b, path);
    if (rc) {
        fprintf(stderr, "replay: cannot read '%s': %s\n", path, strerror(errno));
        bch_buf_release(&b);
        return -1;
    }
    /* an exact-size copy, as libFuzzer hands it over */
    copy = malloc(b.len ? b.len : 1);
    if (!copy) {
        bch_buf_release(&b);
        return -1;
    }
    memcpy(copy, b.data, b.len);
    (void)LLVMFuzzerTestOneInput((const uint8_t *)copy, b.len);
    free(copy);
    bch_buf_release(&b);
    (*n)++;
    return 0;
}

int main(int argc, char **argv)
{
    long n = 0;
    int status = 0;

    for (int i = 1; i < argc; i++) {
        struct stat sb;

        if (stat(argv[i], &sb) != 0) {
            fprintf(stderr, "replay: '%s': %s\n", argv[i], strerror(errno));
            status = 1;
            continue;
        }
        if (S_ISDIR(sb.st_mode)) {
            DIR *d = opendir(argv[i]);
            struct dirent *e;

            if (!d) {
                status = 1;
                continue;
            }
            while ((e = readdir(d)) != NULL) {
                char path[4096];
                struct stat fs;

                snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
                if (e->d_name[0] != '.' && stat(path, &fs) == 0 && S_ISREG(fs.st_mode) &&
                    run_file(path, &n)) {
                    status = 1;
                }
            }
            closedir(d);
        } else if (run_file(argv[i], &n)) {
            status = 1;
        }
    }
    printf("replay: %ld inputs\n", n);
    return status;
}
