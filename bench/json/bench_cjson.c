/*
 * bench_cjson.c - cJSON 1.7.15 (Debian 12 libcjson-dev) in the JSON benchmark.
 *
 * Parsing uses cJSON_ParseWithLengthOpts(buf, len + 1, &end, 1): the buffer is
 * NUL-terminated and require_null_terminated rejects trailing bytes (with the
 * exact length and require_null_terminated=1, 1.7.15 rejects every document).
 */
#include "bench_common.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void *parse(const struct blob *b, struct parse_error *err)
{
    const char *end = NULL;
    cJSON *doc = cJSON_ParseWithLengthOpts(b->data, b->len + 1, &end, 1);
    if (doc == NULL) {
        /* Only a pointer: no message, no line/column.  The pointer is also kept
           in a process-wide global (cJSON_GetErrorPtr), not thread-safe. */
        const char *at = end ? end : cJSON_GetErrorPtr();
        if (at != NULL) {
            err->position = (long)(at - b->data);
            offset_to_line_col(b, err->position, &err->line, &err->column);
            snprintf(err->note, sizeof err->note,
                     "cJSON gives only an error pointer; line/column derived by the benchmark");
        }
    }
    return doc;
}

static void walk_coords(const cJSON *v, struct walk_sums *s)
{
    if (cJSON_IsArray(v)) {
        const cJSON *e;
        cJSON_ArrayForEach(e, v)
        {
            walk_coords(e, s);
        }
    } else if (cJSON_IsNumber(v)) {
        s->coord_sum += v->valuedouble;
        s->coords++;
    }
}

static void count_string(const cJSON *v, long *counter, struct walk_sums *s)
{
    if (cJSON_IsString(v)) {
        (*counter)++;
        s->str_bytes += (long long)strlen(v->valuestring);
    }
}

static void walk_record(const cJSON *rec, long idx, struct walk_sums *s)
{
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(rec, "fields");
    const cJSON *geom;
    if (cJSON_IsObject(f)) {
        geom = cJSON_GetObjectItemCaseSensitive(rec, "geometry");
    } else {
        f = rec;
        const cJSON *shape = cJSON_GetObjectItemCaseSensitive(f, "geo_shape");
        geom = cJSON_GetObjectItemCaseSensitive(shape, "geometry");
        if (geom == NULL) {
            geom = shape;
        }
    }
    /* cJSON keeps every number as a double (valueint is a saturated int), so an
       integer gid is "a number with no fractional part". */
    const cJSON *gid = cJSON_GetObjectItemCaseSensitive(f, "gid");
    if (cJSON_IsNumber(gid) && gid->valuedouble == floor(gid->valuedouble) &&
        fabs(gid->valuedouble) < 9007199254740992.0) {
        s->gid_sum += (long long)gid->valuedouble;
        s->gids++;
    } else {
        sums_problem(s, "record %ld: gid: %s", idx, gid ? "not an integer" : "missing");
    }
    count_string(cJSON_GetObjectItemCaseSensitive(f, "ident"), &s->idents, s);
    count_string(cJSON_GetObjectItemCaseSensitive(f, "etat"), &s->etats, s);
    count_string(cJSON_GetObjectItemCaseSensitive(f, "mdate"), &s->mdates, s);
    walk_coords(cJSON_GetObjectItemCaseSensitive(geom, "coordinates"), s);
}

static int walk(void *doc, struct walk_sums *s)
{
    const cJSON *root = doc;
    const cJSON *list =
        cJSON_IsObject(root) ? cJSON_GetObjectItemCaseSensitive(root, "results") : root;
    if (!cJSON_IsArray(list) || !cJSON_IsObject(list->child)) {
        return -1;
    }
    const cJSON *rec;
    long i = 0;
    cJSON_ArrayForEach(rec, list)
    {
        s->records++;
        walk_record(rec, i++, s);
    }
    return 0;
}

static void free_doc(void *doc)
{
    cJSON_Delete(doc);
}

static void describe(void *doc, FILE *out)
{
    const cJSON *root = doc;
    char *text = cJSON_PrintUnformatted(root);
    fprintf(out, "%s", text ? text : "(cJSON_PrintUnformatted failed)");
    free(text);
    const cJSON *gid = cJSON_GetObjectItemCaseSensitive(root, "gid");
    if (gid != NULL) {
        fprintf(out, " | gid: valueint %d, valuedouble %.17g", gid->valueint, gid->valuedouble);
    }
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "v");
    if (cJSON_IsString(v)) {
        fprintf(out, " | v: strlen %zu", strlen(v->valuestring));
    } else if (cJSON_IsNumber(v)) {
        fprintf(out, " | v: %.17g", v->valuedouble);
    }
}

int main(int argc, char **argv)
{
    static char lib[64];
    snprintf(lib, sizeof lib, "cJSON %s", cJSON_Version());
    const struct bench_ops ops = {lib, "default", parse, walk, free_doc, describe};
    return bench_main(argc, argv, &ops);
}
