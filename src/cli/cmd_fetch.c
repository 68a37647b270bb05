/*
 * bouchon fetch - one snapshot from the Opendatasoft API, to a file or stdout.
 */
#include "core/compat.h"

#include <getopt.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/err.h"
#include "core/log.h"
#include "sources/ods.h"

static const char usage[] =
    "usage: bouchon fetch [--dataset ID] [--base-url URL] [--format FMT] [-o FILE]\n"
    "\n"
    "Fetches one snapshot of an Opendatasoft dataset (default ci_trafi_l from\n"
    "Bordeaux Métropole's portal) and writes it unchanged to FILE or stdout.\n"
    "\n"
    "  --dataset ID        dataset id (default ci_trafi_l)\n"
    "  --base-url URL      portal (default " BCH_ODS_DEFAULT_BASE_URL ")\n"
    "  --format FMT        records (default: records API v2.1, pages of 100 joined into\n"
    "                      one {\"total_count\",\"results\"} page), or json, csv, geojson\n"
    "                      (the export endpoint, no row cap)\n"
    "  -o, --output FILE   write there (atomically) instead of stdout\n"
    "  --api-key-file F    API key file; or set BOUCHON_API_KEY (never logged)\n" BCH_HTTP_HELP "\n"
    "Exit: 0 ok; 3 the API refused the request or sent unusable data; 4 network\n"
    "failure after retries; 2 usage.\n";

static int write_atomic(const char *path, const struct bch_buf *b)
{
    char tmp[4096];
    FILE *f;

    snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
    f = fopen(tmp, "wb");
    if (!f) {
        fprintf(stderr, "bouchon fetch: cannot write '%s': %s\n", tmp, strerror(errno));
        return -1;
    }
    if (fwrite(b->data, 1, b->len, f) != b->len || fflush(f) != 0 || fsync(fileno(f)) != 0) {
        fprintf(stderr, "bouchon fetch: cannot write '%s': %s\n", tmp, strerror(errno));
        fclose(f);
        unlink(tmp);
        return -1;
    }
    fclose(f);
    if (rename(tmp, path) != 0) {
        fprintf(stderr, "bouchon fetch: cannot rename to '%s': %s\n", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

int cmd_fetch(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"dataset", required_argument, NULL, 'D'},
        {"base-url", required_argument, NULL, 'u'},
        {"format", required_argument, NULL, 'f'},
        {"output", required_argument, NULL, 'o'},
        {"api-key-file", required_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        BCH_HTTP_LONGOPTS,
        {0},
    };
    const char *dataset = "ci_trafi_l", *base = BCH_ODS_DEFAULT_BASE_URL, *format = "records";
    const char *output = NULL, *keyfile = NULL;
    struct bch_http_opts http;
    struct bch_ods_stats st;
    struct bch_buf out;
    char err[512];
    char *key;
    int c, rc;

    bch_http_opts_default(&http);
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'D':
            dataset = optarg;
            break;
        case 'u':
            base = optarg;
            break;
        case 'f':
            format = optarg;
            break;
        case 'o':
            output = optarg;
            break;
        case 'k':
            keyfile = optarg;
            break;
        case 'h':
            fputs(usage, stdout);
            return BCH_EXIT_OK;
        default:
            rc = bch_cli_http_option(c, optarg, &http);
            if (rc == 1) {
                break;
            }
            if (rc == 0) {
                fputs(usage, stderr);
            }
            return BCH_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        return bch_cli_usage_error("fetch", "unexpected argument '%s'", argv[optind]);
    }
    if (strcmp(format, "records") != 0 && strcmp(format, "json") != 0 &&
        strcmp(format, "csv") != 0 && strcmp(format, "geojson") != 0) {
        return bch_cli_usage_error("fetch", "--format must be records, json, csv or geojson");
    }
    if (strncmp(base, "http://", 7) != 0 && strncmp(base, "https://", 8) != 0) {
        return bch_cli_usage_error("fetch", "--base-url must start with http:// or https://");
    }
    key = bch_http_load_api_key(keyfile);
    http.api_key = key;
    bch_cli_install_signals();
    http.stop = &bch_cli_stop;
    bch_buf_init(&out, 256u << 20);
    if (strcmp(format, "records") == 0) {
        rc = bch_ods_fetch_records(base, dataset, BCH_ODS_MAX_LIMIT, &http, &out, &st, err,
                                   sizeof(err));
    } else {
        rc = bch_ods_fetch_export(base, dataset, format, &http, &out, &st, err, sizeof(err));
    }
    free(key);
    if (rc) {
        fprintf(stderr, "bouchon fetch: %s: %s\n", dataset, err);
        bch_buf_release(&out);
        return rc == BCH_ERR_NET     ? BCH_EXIT_NET
               : rc == BCH_ERR_USAGE ? BCH_EXIT_USAGE
                                     : BCH_EXIT_INPUT;
    }
    bch_info("fetch", "%s: %zu bytes, %ld records in %d request(s)", dataset, out.len, st.records,
             st.requests);
    if (output) {
        rc = write_atomic(output, &out);
    } else {
        rc = fwrite(out.data, 1, out.len, stdout) == out.len ? 0 : -1;
    }
    bch_buf_release(&out);
    return rc ? BCH_EXIT_INTERNAL : BCH_EXIT_OK;
}
