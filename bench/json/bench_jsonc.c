/*
 * bench_jsonc.c - json-c 0.16 (Debian 12 libjson-c-dev) in the JSON benchmark.
 *
 * Options (before the mode):
 *   -s        JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8 (default: json-c's
 *             lenient mode, flags 0)
 *   -D DEPTH  tokener nesting limit (default JSON_TOKENER_DEFAULT_DEPTH = 32)
 */
#include "bench_common.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

static int tok_flags;
static int tok_depth = JSON_TOKENER_DEFAULT_DEPTH;

static void *parse(const struct blob *b, struct parse_error *err)
{
    struct json_tokener *tok = json_tokener_new_ex(tok_depth);
    if (tok == NULL) {
        snprintf(err->message, sizeof err->message, "json_tokener_new_ex failed");
        return NULL;
    }
    json_tokener_set_flags(tok, tok_flags);
    struct json_object *doc = json_tokener_parse_ex(tok, b->data, (int)b->len);
    enum json_tokener_error je = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    if (doc == NULL) {
        err->position = (long)end;
        snprintf(err->message, sizeof err->message, "%s (json_tokener_error %d)",
                 json_tokener_error_desc(je), (int)je);
        offset_to_line_col(b, err->position, &err->line, &err->column);
        if (je == json_tokener_continue) {
            snprintf(err->note, sizeof err->note,
                     "json_tokener_continue = 'need more input': the caller must know the input "
                     "ended; line/column derived by the benchmark");
        } else {
            snprintf(err->note, sizeof err->note,
                     "json-c gives the parse end offset; line/column derived by the benchmark");
        }
    } else if (end < b->len) {
        snprintf(err->note, sizeof err->note,
                 "stopped after the first value at offset %zu of %zu: %zu bytes not read and "
                 "not reported",
                 end, b->len, b->len - end);
    }
    json_tokener_free(tok);
    return doc;
}

static void walk_coords(struct json_object *v, struct walk_sums *s)
{
    if (json_object_is_type(v, json_type_array)) {
        size_t n = json_object_array_length(v);
        for (size_t i = 0; i < n; i++) {
            walk_coords(json_object_array_get_idx(v, i), s);
        }
    } else if (json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)) {
        s->coord_sum += json_object_get_double(v);
        s->coords++;
    }
}

static struct json_object *get(struct json_object *obj, const char *key)
{
    struct json_object *v = NULL;
    if (!json_object_object_get_ex(obj, key, &v)) {
        return NULL;
    }
    return v;
}

static void count_string(struct json_object *v, long *counter, struct walk_sums *s)
{
    if (json_object_is_type(v, json_type_string)) {
        (*counter)++;
        s->str_bytes += json_object_get_string_len(v);
    }
}

static void walk_record(struct json_object *rec, size_t idx, struct walk_sums *s)
{
    struct json_object *f = get(rec, "fields");
    struct json_object *geom;
    if (json_object_is_type(f, json_type_object)) {
        geom = get(rec, "geometry");
    } else {
        f = rec;
        struct json_object *shape = get(f, "geo_shape");
        geom = get(shape, "geometry");
        if (geom == NULL) {
            geom = shape;
        }
    }
    struct json_object *gid = get(f, "gid");
    if (json_object_is_type(gid, json_type_int)) {
        s->gid_sum += json_object_get_int64(gid);
        s->gids++;
    } else {
        sums_problem(s, "record %zu: gid: %s", idx, gid ? "not an integer" : "missing");
    }
    count_string(get(f, "ident"), &s->idents, s);
    count_string(get(f, "etat"), &s->etats, s);
    count_string(get(f, "mdate"), &s->mdates, s);
    walk_coords(get(geom, "coordinates"), s);
}

static int walk(void *doc, struct walk_sums *s)
{
    struct json_object *root = doc;
    struct json_object *list =
        json_object_is_type(root, json_type_object) ? get(root, "results") : root;
    if (!json_object_is_type(list, json_type_array) ||
        !json_object_is_type(json_object_array_get_idx(list, 0), json_type_object)) {
        return -1;
    }
    size_t n = json_object_array_length(list);
    for (size_t i = 0; i < n; i++) {
        s->records++;
        walk_record(json_object_array_get_idx(list, i), i, s);
    }
    return 0;
}

static void free_doc(void *doc)
{
    json_object_put(doc);
}

static void describe(void *doc, FILE *out)
{
    struct json_object *root = doc;
    fprintf(out, "%s", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
    struct json_object *gid = get(root, "gid");
    if (gid != NULL) {
        fprintf(out, " | gid: type %s, get_int64 %lld, get_uint64 %llu, get_double %.17g",
                json_type_to_name(json_object_get_type(gid)), (long long)json_object_get_int64(gid),
                (unsigned long long)json_object_get_uint64(gid), json_object_get_double(gid));
    }
    struct json_object *v = get(root, "v");
    if (json_object_is_type(v, json_type_string)) {
        fprintf(out, " | v: get_string_len %d, strlen %zu", json_object_get_string_len(v),
                strlen(json_object_get_string(v)));
    } else if (json_object_is_type(v, json_type_double)) {
        fprintf(out, " | v: %.17g", json_object_get_double(v));
    }
}

int main(int argc, char **argv)
{
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "-s") == 0) {
            tok_flags = JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8;
        } else if (strcmp(argv[i], "-D") == 0 && i + 1 < argc) {
            tok_depth = atoi(argv[++i]);
        } else {
            fprintf(stderr, "unknown option %s\n", argv[i]);
            return 2;
        }
    }
    static char lib[64], variant[64];
    snprintf(lib, sizeof lib, "json-c %s", json_c_version());
    snprintf(variant, sizeof variant, "%s%s", tok_flags ? "strict+utf8" : "default",
             tok_depth != JSON_TOKENER_DEFAULT_DEPTH ? "+depth" : "");
    const struct bench_ops ops = {lib, variant, parse, walk, free_doc, describe};
    argv[i - 1] = argv[0];
    return bench_main(argc - i + 1, argv + i - 1, &ops);
}
