/*
 * ods.h - client of the Opendatasoft Explore API v2.1 (Bordeaux Métropole).
 *
 * Records: GET {base}/api/explore/v2.1/catalog/datasets/{id}/records with
 * limit <= 100 and offset + limit <= 10000 (the API's own limits), ordered
 * by the dataset's key (bch_ods_key_field()) so that pages do not overlap.
 * Every page must announce the same total_count, and the pages together
 * must hold exactly total_count records with distinct keys; otherwise the dataset changed while
 * paging and the pull starts again (twice at most).  Datasets above 10000 records are fetched
 * through the export endpoint instead, which has no row cap.
 *
 * Exports: GET .../exports/{json|csv|geojson}, the whole dataset at once.
 */
#ifndef BCH_ODS_H
#define BCH_ODS_H

#include "core/buf.h"
#include "core/compat.h"
#include "sources/http_fetch.h"

#define BCH_ODS_DEFAULT_BASE_URL "https://opendata.bordeaux-metropole.fr"
#define BCH_ODS_MAX_LIMIT        100
#define BCH_ODS_MAX_WINDOW       10000

struct bch_ods_stats {
    long total_count; /* announced, -1 if unknown */
    long records;     /* received */
    int requests;     /* HTTP requests made, retries included */
    double elapsed_s;
};

/* The record key of dataset: "bm_gid" for ci_tpstj_a, "gid" for the others. */
const char *bch_ods_key_field(const char *dataset);

/*
 * Fetches every record of dataset into out as one records page
 * {"total_count": N, "results": [...]}.  Returns 0, BCH_ERR_NET (network
 * failure after retries), or BCH_ERR_INPUT (API error or unusable payload),
 * with the reason in err.
 */
int bch_ods_fetch_records(const char *base_url, const char *dataset, int page_size,
                          const struct bch_http_opts *http, struct bch_buf *out,
                          struct bch_ods_stats *st, char *err, size_t errlen);

/* Fetches the export of dataset in format ("json", "csv", "geojson") into out. */
int bch_ods_fetch_export(const char *base_url, const char *dataset, const char *format,
                         const struct bch_http_opts *http, struct bch_buf *out,
                         struct bch_ods_stats *st, char *err, size_t errlen);

#endif
