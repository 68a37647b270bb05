/*
 * bench_common.c - file loading, timing, statistics and output of the JSON
 * library benchmark.  See bench_common.h.
 *
 * Usage of every bench_<lib> program:
 *   bench_<lib> [lib options] bench FILE ITERS   time ITERS parse+walk+free rounds
 *   bench_<lib> [lib options] check FILE         parse once, print error or result
 */
#define _POSIX_C_SOURCE 200809L

#include "bench_common.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static int load_file(const char *path, struct blob *b)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t cap = 1 << 16;
    size_t len = 0;
    char *data = malloc(cap);
    if (data == NULL) {
        fclose(f);
        return -1;
    }
    for (;;) {
        if (len + 1 >= cap) {
            char *bigger = realloc(data, cap * 2);
            if (bigger == NULL) {
                free(data);
                fclose(f);
                return -1;
            }
            data = bigger;
            cap *= 2;
        }
        size_t n = fread(data + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0) {
            break;
        }
    }
    int failed = ferror(f);
    fclose(f);
    if (failed) {
        fprintf(stderr, "%s: read error\n", path);
        free(data);
        return -1;
    }
    data[len] = '\0';
    b->data = data;
    b->len = len;
    return 0;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* CPU time of this process: unlike wall time, it does not count the time other
   processes on a shared machine take the core away. */
static double cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static long peak_rss_kb(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) {
        return -1;
    }
    return ru.ru_maxrss; /* kilobytes on Linux */
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

void sums_problem(struct walk_sums *s, const char *fmt, ...)
{
    s->problems++;
    if (s->first_problem[0] != '\0') {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->first_problem, sizeof s->first_problem, fmt, ap);
    va_end(ap);
}

void offset_to_line_col(const struct blob *b, long pos, long *line, long *col)
{
    long ln = 1;
    long start = 0;
    if (pos < 0 || (size_t)pos > b->len) {
        *line = -1;
        *col = -1;
        return;
    }
    for (long i = 0; i < pos; i++) {
        if (b->data[i] == '\n') {
            ln++;
            start = i + 1;
        }
    }
    *line = ln;
    *col = pos - start + 1;
}

static void print_sums(const struct walk_sums *s)
{
    printf("records=%ld gid_sum=%lld gids=%ld idents=%ld etats=%ld mdates=%ld str_bytes=%lld "
           "coords=%ld coord_sum=%.6f problems=%ld",
           s->records, s->gid_sum, s->gids, s->idents, s->etats, s->mdates, s->str_bytes, s->coords,
           s->coord_sum, s->problems);
}

/* Print up to 24 bytes either side of pos, with control bytes escaped. */
static void print_context(const struct blob *b, long pos)
{
    if (pos < 0) {
        return;
    }
    long from = pos > 24 ? pos - 24 : 0;
    long to = (size_t)pos + 24 < b->len ? pos + 24 : (long)b->len;
    printf("  context: \"");
    for (long i = from; i <= to; i++) {
        if (i == pos) {
            printf("<HERE>");
        }
        if (i == to) {
            break;
        }
        unsigned char c = (unsigned char)b->data[i];
        if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
            printf("\\x%02x", c);
        } else {
            putchar(c);
        }
    }
    printf("\"\n");
}

static int run_check(const struct bench_ops *ops, const char *path, const struct blob *b)
{
    struct parse_error err = {-1, -1, -1, "", ""};
    void *doc = ops->parse(b, &err);
    printf("%s [%s] %s (%zu bytes)\n", ops->lib, ops->variant, path, b->len);
    if (doc == NULL) {
        printf("  REJECTED: line=%ld column=%ld position=%ld message=\"%s\"\n", err.line,
               err.column, err.position, err.message);
        if (err.note[0] != '\0') {
            printf("  note: %s\n", err.note);
        }
        print_context(b, err.position);
        return 1;
    }
    printf("  ACCEPTED");
    if (err.note[0] != '\0') {
        printf(" (note: %s)", err.note);
    }
    printf("\n");
    struct walk_sums s = {0};
    if (b->len > 300 && ops->walk(doc, &s) == 0) {
        printf("  walk: ");
        print_sums(&s);
        printf("\n");
        if (s.first_problem[0] != '\0') {
            printf("  first problem: %s\n", s.first_problem);
        }
    }
    if (b->len <= 300) {
        char *text = NULL;
        size_t size = 0;
        FILE *mem = open_memstream(&text, &size);
        if (mem != NULL) {
            ops->describe(doc, mem);
            fclose(mem);
            printf("  as the library holds it: %.240s%s\n", text, size > 240 ? "..." : "");
            free(text);
        }
    }
    ops->free_doc(doc);
    return 0;
}

static int run_bench(const struct bench_ops *ops, const char *path, const struct blob *b,
                     long iters)
{
    long rss_loaded = peak_rss_kb();
    double *total = calloc((size_t)iters, sizeof *total);
    double *parse = calloc((size_t)iters, sizeof *parse);
    double *cpu = calloc((size_t)iters, sizeof *cpu);
    if (total == NULL || parse == NULL || cpu == NULL) {
        free(total);
        free(parse);
        free(cpu);
        return 1;
    }
    struct walk_sums first = {0};
    for (long i = -1; i < iters; i++) { /* i == -1 is the untimed warm-up round */
        struct parse_error err = {-1, -1, -1, "", ""};
        struct walk_sums s = {0};
        double c0 = cpu_ms();
        double t0 = now_ms();
        void *doc = ops->parse(b, &err);
        double t1 = now_ms();
        if (doc == NULL) {
            fprintf(stderr, "%s: parse failed at %ld: %s\n", path, err.position, err.message);
            free(total);
            free(parse);
            free(cpu);
            return 1;
        }
        if (ops->walk(doc, &s) != 0) {
            fprintf(stderr, "%s: no record list\n", path);
            ops->free_doc(doc);
            free(total);
            free(parse);
            free(cpu);
            return 1;
        }
        ops->free_doc(doc);
        double t2 = now_ms();
        double c2 = cpu_ms();
        if (i < 0) {
            first = s;
            continue;
        }
        if (memcmp(&s, &first, sizeof s) != 0) {
            fprintf(stderr, "%s: walk results differ between rounds\n", path);
        }
        total[i] = t2 - t0;
        parse[i] = t1 - t0;
        cpu[i] = c2 - c0;
    }
    long rss_peak = peak_rss_kb();
    double med = median(total, (size_t)iters);
    double lo = total[0];
    double hi = total[iters - 1];
    double med_parse = median(parse, (size_t)iters);
    double med_cpu = median(cpu, (size_t)iters);
    double lo_cpu = cpu[0];
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    printf("RESULT\tlib=%s\tvariant=%s\tfile=%s\tbytes=%zu\titers=%ld\tms_median=%.3f\t"
           "ms_min=%.3f\tms_max=%.3f\tms_parse=%.3f\tcpu_ms_median=%.3f\tcpu_ms_min=%.3f\t"
           "MBps=%.1f\trss_loaded_kb=%ld\trss_peak_kb=%ld\t",
           ops->lib, ops->variant, base, b->len, iters, med, lo, hi, med_parse, med_cpu, lo_cpu,
           (double)b->len / 1e6 / (med / 1e3), rss_loaded, rss_peak);
    print_sums(&first);
    printf("\n");
    free(total);
    free(parse);
    free(cpu);
    return 0;
}

int bench_main(int argc, char **argv, const struct bench_ops *ops)
{
    if (argc < 3 || (strcmp(argv[1], "bench") != 0 && strcmp(argv[1], "check") != 0) ||
        (strcmp(argv[1], "bench") == 0 && argc != 4)) {
        fprintf(stderr, "usage: %s [options] bench FILE ITERS | check FILE...\n", argv[0]);
        return 2;
    }
    if (strcmp(argv[1], "bench") == 0) {
        char *end;
        long iters = strtol(argv[3], &end, 10);
        if (*end != '\0' || iters < 1) {
            fprintf(stderr, "ITERS must be a positive integer\n");
            return 2;
        }
        struct blob b;
        if (load_file(argv[2], &b) != 0) {
            return 1;
        }
        int rc = run_bench(ops, argv[2], &b, iters);
        free(b.data);
        return rc;
    }
    int rc = 0;
    for (int i = 2; i < argc; i++) {
        struct blob b;
        if (load_file(argv[i], &b) != 0) {
            return 1;
        }
        run_check(ops, argv[i], &b);
        free(b.data);
        fflush(stdout);
    }
    return rc;
}
