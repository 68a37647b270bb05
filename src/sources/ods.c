#include "core/compat.h"

#include <curl/curl.h>
#include <jansson.h>

#include "core/err.h"
#include "core/log.h"
#include "sources/ods.h"

const char *bch_ods_key_field(const char *dataset)
{
    /* The travel-time corridors prefix every field with bm_ (DATA_FORMATS.md). */
    return strcmp(dataset, "ci_tpstj_a") == 0 ? "bm_gid" : "gid";
}

static int make_url(char *url, size_t cap, const char *base, const char *dataset, const char *tail)
{
    size_t blen = strlen(base);
    char *esc;
    int n;

    while (blen > 0 && base[blen - 1] == '/') {
        blen--;
    }
    esc = curl_easy_escape(NULL, dataset, 0);
    if (!esc) {
        return -1;
    }
    n = snprintf(url, cap, "%.*s/api/explore/v2.1/catalog/datasets/%s/%s", (int)blen, base, esc,
                 tail);
    curl_free(esc);
    return (n < 0 || (size_t)n >= cap) ? -1 : 0;
}

/* A body that is not what a 200 should carry (HTML page, cut JSON...). */
static bool looks_html(const struct bch_http_response *r)
{
    return strstr(r->content_type, "html") != NULL || (r->body.len > 0 && r->body.data[0] == '<');
}

/* One page; retries unusable bodies like network errors. */
static int get_page(const char *url, const struct bch_http_opts *http, json_t **page,
                    struct bch_ods_stats *st, char *err, size_t errlen)
{
    for (int attempt = 0; attempt <= http->max_retries; attempt++) {
        struct bch_http_response r;
        json_error_t jerr;
        int rc = bch_http_get(url, http, &r, err, errlen);

        st->requests += r.attempts;
        if (rc) {
            bch_http_response_release(&r);
            return rc;
        }
        if (looks_html(&r)) {
            bch_http_describe_error(&r, err, errlen);
        } else {
            *page = json_loadb(r.body.data, r.body.len, 0, &jerr);
            if (*page && json_is_object(*page) &&
                json_is_array(json_object_get(*page, "results")) &&
                json_is_integer(json_object_get(*page, "total_count"))) {
                bch_http_response_release(&r);
                return 0;
            }
            if (*page) {
                snprintf(err, errlen, "records page without total_count and results");
                json_decref(*page);
                *page = NULL;
            } else if (r.body.len == 0) {
                snprintf(err, errlen, "records page: empty body");
            } else {
                snprintf(err, errlen, "invalid JSON in records page (line %d, column %d: %s)",
                         jerr.line, jerr.column, jerr.text);
            }
        }
        bch_http_response_release(&r);
        if (http->stop && *http->stop) {
            return BCH_ERR_NET;
        }
        if (attempt < http->max_retries) {
            bch_warn("ods", "GET %s: %s; trying again", url, err);
            bch_http_backoff_wait(http, attempt);
        }
    }
    return BCH_ERR_INPUT;
}

/* One full pass of paging.  1 = inconsistent (retry the pull), 0 ok, <0 error. */
static int pull_once(const char *base, const char *dataset, int limit,
                     const struct bch_http_opts *http, json_t *results, long *total,
                     struct bch_ods_stats *st, char *err, size_t errlen)
{
    char tail[256], url[2048];
    const char *keyf = bch_ods_key_field(dataset);
    long offset = 0;
    json_t *seen = json_object();
    int rc = 0;

    *total = -1;
    json_array_clear(results);
    for (;;) {
        json_t *page = NULL, *items;
        size_t n;
        long tc;

        if (offset + limit > BCH_ODS_MAX_WINDOW) {
            rc = 2; /* past the API window: caller falls back to the export */
            break;
        }
        snprintf(tail, sizeof(tail), "records?limit=%d&offset=%ld&order_by=%s", limit, offset,
                 keyf);
        if (make_url(url, sizeof(url), base, dataset, tail)) {
            snprintf(err, errlen, "base URL too long");
            rc = BCH_ERR_USAGE;
            break;
        }
        rc = get_page(url, http, &page, st, err, errlen);
        if (rc) {
            break;
        }
        tc = (long)json_integer_value(json_object_get(page, "total_count"));
        items = json_object_get(page, "results");
        if (*total < 0) {
            *total = tc;
            if (tc > BCH_ODS_MAX_WINDOW) {
                json_decref(page);
                rc = 2;
                break;
            }
        } else if (tc != *total) {
            snprintf(err, errlen, "total_count changed from %ld to %ld while paging", *total, tc);
            json_decref(page);
            rc = 1;
            break;
        }
        for (size_t i = 0; i < json_array_size(items); i++) {
            json_t *rec = json_array_get(items, i);
            json_t *gid = json_object_get(rec, keyf);
            char key[32];

            if (json_is_integer(gid)) {
                snprintf(key, sizeof(key), "%" JSON_INTEGER_FORMAT, json_integer_value(gid));
                if (json_object_get(seen, key)) {
                    snprintf(err, errlen, "%s %s seen on two pages", keyf, key);
                    rc = 1;
                    break;
                }
                json_object_set_new(seen, key, json_true());
            }
            json_array_append(results, rec);
        }
        n = json_array_size(items);
        json_decref(page); /* items is borrowed from page: not used past here */
        if (rc) {
            break;
        }
        if (n == 0 || (long)json_array_size(results) >= *total) {
            break;
        }
        offset += limit;
    }
    if (rc == 0 && (long)json_array_size(results) != *total) {
        snprintf(err, errlen, "total_count announced %ld records but the pages held %zu", *total,
                 json_array_size(results));
        rc = 1;
    }
    json_decref(seen);
    return rc;
}

int bch_ods_fetch_export(const char *base_url, const char *dataset, const char *format,
                         const struct bch_http_opts *http, struct bch_buf *out,
                         struct bch_ods_stats *st, char *err, size_t errlen)
{
    char tail[64], url[2048];
    struct bch_http_response r;
    int rc;

    memset(st, 0, sizeof(*st));
    st->total_count = -1;
    snprintf(tail, sizeof(tail), "exports/%s", format);
    if (make_url(url, sizeof(url), base_url, dataset, tail)) {
        snprintf(err, errlen, "base URL too long");
        return BCH_ERR_USAGE;
    }
    rc = bch_http_get(url, http, &r, err, errlen);
    st->requests = r.attempts;
    st->elapsed_s = r.elapsed_s;
    if (rc == 0 && looks_html(&r)) {
        bch_http_describe_error(&r, err, errlen);
        rc = BCH_ERR_INPUT;
    }
    if (rc == 0) {
        bch_buf_reset(out);
        if (bch_buf_add(out, r.body.data, r.body.len)) {
            snprintf(err, errlen, "export too large");
            rc = BCH_ERR_INPUT;
        }
    }
    bch_http_response_release(&r);
    return rc;
}

int bch_ods_fetch_records(const char *base_url, const char *dataset, int page_size,
                          const struct bch_http_opts *http, struct bch_buf *out,
                          struct bch_ods_stats *st, char *err, size_t errlen)
{
    json_t *results = json_array();
    long total = -1;
    int rc = 1;
    char *text;

    memset(st, 0, sizeof(*st));
    st->total_count = -1;
    if (page_size < 1 || page_size > BCH_ODS_MAX_LIMIT) {
        page_size = BCH_ODS_MAX_LIMIT;
    }
    for (int pass = 0; pass < 3 && rc == 1; pass++) {
        rc = pull_once(base_url, dataset, page_size, http, results, &total, st, err, errlen);
        if (rc == 1) {
            bch_warn("ods", "%s: %s; paging again", dataset, err);
        }
    }
    if (rc == 2) {
        bch_info("ods", "%s: %ld records exceed the records API window; using the export", dataset,
                 total);
        json_decref(results);
        return bch_ods_fetch_export(base_url, dataset, "json", http, out, st, err, errlen);
    }
    if (rc == 1) {
        rc = BCH_ERR_INPUT; /* still inconsistent after three pulls */
    }
    if (rc == 0) {
        json_t *doc = json_pack("{s:I, s:O}", "total_count", (json_int_t)total, "results", results);

        text = doc ? json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        json_decref(doc);
        bch_buf_reset(out);
        if (!text || bch_buf_adds(out, text)) {
            snprintf(err, errlen, "out of memory assembling the pages");
            rc = BCH_ERR_NOMEM;
        }
        free(text);
        st->total_count = total;
        st->records = (long)json_array_size(results);
    }
    json_decref(results);
    return rc;
}
