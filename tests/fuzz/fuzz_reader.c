/*
 * fuzz_reader.c - the ci_trafi_l reader (sources/trafi_reader.c) on any
 * payload: CSV, JSON arrays, records pages, GeoJSON, v1, garbage.
 *
 * The sink checks the record contract of model/trafi.h (terminated texts,
 * state in range, hashes of the raw texts, borrowed geometry and its
 * length) and the error discipline of trafi_reader.h (counts match the
 * callbacks, positions never go back, an unreadable payload delivers
 * nothing).  Each input is parsed twice with the same reader (the second
 * time from its geometry cache) and must give the same records.
 */
#include "core/compat.h"

#include <math.h>

#include "core/err.h"
#include "core/hash.h"
#include "fuzz.h"
#include "sources/trafi_reader.h"

struct tally {
    long records, problems, coerced, rejected;
    long last_pos;
    uint64_t digest; /* of everything delivered, to compare the two passes */
    enum bch_format fmt;
    bool csv;
};

static void mix(struct tally *t, const void *p, size_t n)
{
    t->digest = t->digest * 1099511628211u ^ bch_hash64(p, n);
}

static int on_record(void *ctx, const struct bch_trafi_record *r)
{
    struct tally *t = ctx;
    char h[BCH_HASH_HEX];

    t->records++;
    FUZZ_CHECK(r->position >= 1 && r->position >= t->last_pos);
    t->last_pos = r->position;
    FUZZ_CHECK(memchr(r->ident, '\0', sizeof(r->ident)) && r->ident[0]);
    FUZZ_CHECK(memchr(r->typevoie, '\0', sizeof(r->typevoie)));
    FUZZ_CHECK(memchr(r->commune, '\0', sizeof(r->commune)));
    FUZZ_CHECK(memchr(r->code_commune, '\0', sizeof(r->code_commune)));
    FUZZ_CHECK(memchr(r->origine, '\0', sizeof(r->origine)));
    FUZZ_CHECK(r->state >= 0 && r->state < BCH_STATE_COUNT);
    FUZZ_CHECK(r->gid >= 0);
    FUZZ_CHECK(r->mdate != BCH_TIME_NONE);
    FUZZ_CHECK(r->raw_body && r->raw_len > 0);
    bch_hash_hex(r->raw_body, r->raw_len, h);
    FUZZ_CHECK(strcmp(h, r->record_hash) == 0);
    if (r->geom_text && r->geom_len) {
        bch_hash_hex(r->geom_text, r->geom_len, h);
        FUZZ_CHECK(strcmp(h, r->geom_hash) == 0);
    }
    if (r->geom) {
        FUZZ_CHECK(r->geom->type == BCH_GEOM_LINESTRING ||
                   r->geom->type == BCH_GEOM_MULTILINESTRING);
        FUZZ_CHECK(r->geom_text && r->geom_len > 0 && r->geom_norm);
        FUZZ_CHECK(isfinite(r->length_m) && r->length_m >= 0);
        FUZZ_CHECK(r->length_m == bch_geom_length_m(r->geom));
        bch_hash_hex(r->geom_norm, strlen(r->geom_norm), h);
        FUZZ_CHECK(strcmp(h, r->geom_norm_hash) == 0);
    } else {
        FUZZ_CHECK(r->length_m == 0 && r->geom_norm == NULL);
    }
    mix(t, r->record_hash, 32);
    mix(t, r->ident, strlen(r->ident));
    mix(t, &r->mdate, sizeof(r->mdate));
    mix(t, &r->state, sizeof(r->state));
    mix(t, &r->length_m, sizeof(r->length_m));
    return 0;
}

static int on_problem(void *ctx, const struct bch_problem *pb)
{
    struct tally *t = ctx;

    t->problems++;
    t->coerced += pb->coerced;
    t->rejected += !pb->coerced;
    FUZZ_CHECK(pb->position >= 0);
    FUZZ_CHECK(pb->field && pb->reason && pb->reason[0]);
    FUZZ_CHECK(pb->value || pb->value_len == 0);
    mix(t, pb->reason, strlen(pb->reason));
    mix(t, &pb->position, sizeof(pb->position));
    return 0;
}

static void pass(struct bch_reader *rd, const char *buf, size_t len, struct tally *t, int *rc)
{
    struct bch_reader_sink sink = {t, on_record, on_problem};
    struct bch_parse_result res;
    char err[256];

    memset(t, 0, sizeof(*t));
    err[0] = '\0';
    *rc = bch_reader_parse(rd, buf, len, &sink, &res, err, sizeof(err));
    FUZZ_CHECK(*rc == 0 || *rc == BCH_ERR_INPUT || *rc == BCH_ERR_NOMEM);
    FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL);
    if (*rc == BCH_ERR_INPUT) {
        FUZZ_CHECK(err[0] != '\0');
        FUZZ_CHECK(t->records == 0); /* unreadable: nothing delivered */
    }
    if (*rc == 0) {
        FUZZ_CHECK(res.records == t->records);
        FUZZ_CHECK(res.coerced == t->coerced);
        FUZZ_CHECK(res.rejected == t->rejected);
        FUZZ_CHECK(res.format != BCH_FMT_UNKNOWN);
        FUZZ_CHECK((t->records == 0) == (res.newest_mdate == BCH_TIME_NONE));
        if (res.header) {
            FUZZ_CHECK(res.format == BCH_FMT_CSV);
            FUZZ_CHECK(res.header >= buf && res.header + res.header_len <= buf + len);
        }
    }
    t->fmt = res.format;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bch_reader *rd = bch_reader_new();
    struct tally a, b;
    int rca, rcb;

    FUZZ_CHECK(rd != NULL);
    pass(rd, (const char *)data, size, &a, &rca);
    pass(rd, (const char *)data, size, &b, &rcb);
    FUZZ_CHECK(rca == rcb && a.records == b.records && a.problems == b.problems);
    FUZZ_CHECK(a.digest == b.digest && a.fmt == b.fmt);
    bch_reader_free(rd);
    return 0;
}
