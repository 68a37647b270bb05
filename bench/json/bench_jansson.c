/*
 * bench_jansson.c - jansson 2.14 (Debian 12 libjansson-dev) in the JSON benchmark.
 *
 * Options (before the mode):
 *   -d   parse with JSON_REJECT_DUPLICATES
 *   -u   walk with json_unpack_ex() format strings instead of json_object_get()
 */
#include "bench_common.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static size_t load_flags;
static int use_unpack;

static void *parse(const struct blob *b, struct parse_error *err)
{
    json_error_t je;
    json_t *doc = json_loadb(b->data, b->len, load_flags, &je);
    if (doc == NULL) {
        err->line = je.line;
        err->column = je.column;
        err->position = je.position;
        snprintf(err->message, sizeof err->message, "%s (code %d)", je.text,
                 (int)json_error_code(&je));
    }
    return doc;
}

static void walk_coords(const json_t *v, struct walk_sums *s)
{
    if (json_is_array(v)) {
        size_t n = json_array_size(v);
        for (size_t i = 0; i < n; i++) {
            walk_coords(json_array_get(v, i), s);
        }
    } else if (json_is_number(v)) {
        s->coord_sum += json_number_value(v);
        s->coords++;
    }
}

static void count_string(const json_t *v, long *counter, struct walk_sums *s)
{
    if (json_is_string(v)) {
        (*counter)++;
        s->str_bytes += (long long)json_string_length(v);
    }
}

/* json_object_get() walk: v2.1 record, or v1 record with "fields" + "geometry". */
static void walk_record_get(const json_t *rec, size_t idx, struct walk_sums *s)
{
    const json_t *f = json_object_get(rec, "fields");
    const json_t *geom;
    if (json_is_object(f)) {
        geom = json_object_get(rec, "geometry");
    } else {
        f = rec;
        const json_t *shape = json_object_get(f, "geo_shape");
        geom = json_object_get(shape, "geometry");
        if (geom == NULL) {
            geom = shape;
        }
    }
    const json_t *gid = json_object_get(f, "gid");
    if (json_is_integer(gid)) {
        s->gid_sum += json_integer_value(gid);
        s->gids++;
    } else {
        sums_problem(s, "record %zu: gid: %s", idx, gid ? "not an integer" : "missing");
    }
    count_string(json_object_get(f, "ident"), &s->idents, s);
    count_string(json_object_get(f, "etat"), &s->etats, s);
    count_string(json_object_get(f, "mdate"), &s->mdates, s);
    walk_coords(json_object_get(geom, "coordinates"), s);
}

static void add_string(const char *v, size_t len, long *counter, struct walk_sums *s)
{
    if (v != NULL) {
        (*counter)++;
        s->str_bytes += (long long)len;
    }
}

/* json_unpack_ex() walk of the same fields. */
static void walk_record_unpack(json_t *rec, size_t idx, struct walk_sums *s)
{
    json_error_t je;
    json_int_t gid = 0;
    const char *ident = NULL, *etat = NULL, *mdate = NULL;
    size_t ident_len = 0, etat_len = 0, mdate_len = 0;
    json_t *coords = NULL;
    int rc;
    if (json_object_get(rec, "fields") != NULL) {
        rc = json_unpack_ex(rec, &je, 0, "{s:{s:I, s?s%, s?s%, s?s%}, s?{s?o}}", "fields", "gid",
                            &gid, "ident", &ident, &ident_len, "etat", &etat, &etat_len, "mdate",
                            &mdate, &mdate_len, "geometry", "coordinates", &coords);
    } else {
        rc = json_unpack_ex(rec, &je, 0, "{s:I, s?s%, s?s%, s?s%, s?{s?{s?o}}}", "gid", &gid,
                            "ident", &ident, &ident_len, "etat", &etat, &etat_len, "mdate", &mdate,
                            &mdate_len, "geo_shape", "geometry", "coordinates", &coords);
    }
    if (rc != 0) {
        sums_problem(s, "record %zu: %s (source %s, line %d, column %d, position %d)", idx, je.text,
                     je.source, je.line, je.column, je.position);
        return;
    }
    s->gid_sum += gid;
    s->gids++;
    add_string(ident, ident_len, &s->idents, s);
    add_string(etat, etat_len, &s->etats, s);
    add_string(mdate, mdate_len, &s->mdates, s);
    walk_coords(coords, s);
}

static int walk(void *doc, struct walk_sums *s)
{
    json_t *root = doc;
    json_t *list = json_is_object(root) ? json_object_get(root, "results") : root;
    if (!json_is_array(list) || !json_is_object(json_array_get(list, 0))) {
        return -1;
    }
    size_t i;
    json_t *rec;
    json_array_foreach(list, i, rec)
    {
        s->records++;
        if (use_unpack) {
            walk_record_unpack(rec, i, s);
        } else {
            walk_record_get(rec, i, s);
        }
    }
    return 0;
}

static void free_doc(void *doc)
{
    json_decref(doc);
}

static void describe(void *doc, FILE *out)
{
    json_t *root = doc;
    char *text = json_dumps(root, JSON_COMPACT | JSON_ENCODE_ANY);
    fprintf(out, "%s", text ? text : "(json_dumps failed)");
    free(text);
    if (json_is_array(root)) { /* how reals come out with a shorter precision */
        text = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(15));
        fprintf(out, " | JSON_REAL_PRECISION(15): %s", text ? text : "(json_dumps failed)");
        free(text);
    }
    const json_t *gid = json_object_get(root, "gid");
    if (gid != NULL) {
        fprintf(out,
                " | gid: type %d, json_integer_value %" JSON_INTEGER_FORMAT
                ", json_number_value %.17g",
                (int)json_typeof(gid), json_integer_value(gid), json_number_value(gid));
    }
    const json_t *v = json_object_get(root, "v");
    if (json_is_string(v)) {
        fprintf(out, " | v: json_string_length %zu, strlen %zu", json_string_length(v),
                strlen(json_string_value(v)));
    } else if (json_is_number(v)) {
        fprintf(out, " | v: %.17g", json_number_value(v));
    }
}

int main(int argc, char **argv)
{
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "-d") == 0) {
            load_flags |= JSON_REJECT_DUPLICATES;
        } else if (strcmp(argv[i], "-u") == 0) {
            use_unpack = 1;
        } else {
            fprintf(stderr, "unknown option %s\n", argv[i]);
            return 2;
        }
    }
    const char *variant = use_unpack ? (load_flags ? "reject-dups+unpack" : "unpack")
                                     : (load_flags ? "reject-dups" : "default");
    static char lib[64];
    snprintf(lib, sizeof lib, "jansson %s", jansson_version_str());
    const struct bench_ops ops = {lib, variant, parse, walk, free_doc, describe};
    argv[i - 1] = argv[0];
    return bench_main(argc - i + 1, argv + i - 1, &ops);
}
