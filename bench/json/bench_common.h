/*
 * bench_common.h - library-neutral part of the JSON library benchmark.
 *
 * Each bench_<lib>.c fills a struct bench_ops (parse, walk, free, and a
 * "describe" used by the probes) and calls bench_main().  Nothing in here
 * includes a JSON header, so the three programs stay separate (jansson.h and
 * json-c/json.h cannot be included together).
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <stddef.h>
#include <stdio.h>

/* The whole input file, NUL-terminated (data[len] == '\0'). */
struct blob {
    char *data;
    size_t len;
};

/* What a parser could say about a syntax error; -1 when it does not say it. */
struct parse_error {
    long line;
    long column;
    long position;     /* byte offset from the start of the buffer */
    char message[256]; /* library text, or "" when the library has none */
    char note[256];    /* what the benchmark had to add or derive itself */
};

/*
 * What the walk read: one counter per field Bouchon needs, so that the three
 * libraries can be checked against each other (same input -> same sums).
 */
struct walk_sums {
    long records;
    long long gid_sum;
    long gids;
    long idents;
    long etats;
    long mdates;
    long long str_bytes; /* total length of ident + etat + mdate */
    long coords;         /* number of doubles under geometry.coordinates */
    double coord_sum;
    long problems; /* records with a missing or mistyped gid */
    char first_problem[256];
};

struct bench_ops {
    const char *lib;     /* "jansson 2.14" */
    const char *variant; /* "default", "reject-dups", ... */
    /* Parse b; return the document or NULL and fill *err. */
    void *(*parse)(const struct blob *b, struct parse_error *err);
    /* Walk every record; 0 on success, -1 if the document has no record list
       (a non-empty array of objects, at the root or under "results"). */
    int (*walk)(void *doc, struct walk_sums *s);
    void (*free_doc)(void *doc);
    /* Print how the library represents a small probe document (check mode). */
    void (*describe)(void *doc, FILE *out);
};

/* Records of a payload: v2.1 page {"results": [...]}, export [...], or v1 [...]. */
int bench_main(int argc, char **argv, const struct bench_ops *ops);

/* Helpers shared by the walkers. */
void sums_problem(struct walk_sums *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Line and column (1-based, bytes) of byte offset pos in b. */
void offset_to_line_col(const struct blob *b, long pos, long *line, long *col);

#endif
