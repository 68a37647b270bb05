/*
 * cache.c - rendered bodies shared between the cache and in-flight
 * responses, and their gzip form.
 *
 * The cache is a fixed array of CACHE_SLOTS entries and a byte budget; a
 * full cache drops its least recently used entry.  An entry's key is the
 * raw request target and its fingerprint says what it was built from (the
 * warehouse generation of http_fingerprint(), or a file's mtime and size),
 * so a commit makes older entries unreachable and they age out.
 */
#include "core/compat.h"

#include <zlib.h>

#include "http/internal.h"

int http_gzip(const char *in, size_t len, char **out, size_t *outlen)
{
    z_stream zs;
    uLong bound;
    char *buf;
    int rc;

    memset(&zs, 0, sizeof(zs));
    /* windowBits 15 + 16: a gzip header and trailer instead of zlib's. */
    if (deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        return -1;
    }
    bound = deflateBound(&zs, (uLong)len);
    buf = malloc(bound);
    if (!buf) {
        deflateEnd(&zs);
        return -1;
    }
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)len;
    zs.next_out = (Bytef *)buf;
    zs.avail_out = (uInt)bound;
    rc = deflate(&zs, Z_FINISH);
    if (rc != Z_STREAM_END) {
        deflateEnd(&zs);
        free(buf);
        return -1;
    }
    *outlen = zs.total_out;
    *out = buf;
    deflateEnd(&zs);
    return 0;
}

void http_cache_init(struct http_cache *c, size_t max_bytes)
{
    memset(c, 0, sizeof(*c));
    pthread_mutex_init(&c->lock, NULL);
    c->max_bytes = max_bytes;
}

static size_t entry_bytes(const struct cache_entry *e)
{
    return e->len + e->gzlen + (e->key ? strlen(e->key) : 0) + sizeof(*e);
}

static void entry_free(struct cache_entry *e)
{
    free(e->key);
    free(e->body);
    free(e->gz);
    free(e);
}

/* Caller holds the lock: takes slot i out of the cache. */
static void unlink_slot(struct http_cache *c, size_t i)
{
    struct cache_entry *e = c->slots[i];

    c->slots[i] = NULL;
    c->bytes -= entry_bytes(e);
    e->dead = true;
    if (e->refs == 0) {
        entry_free(e);
    }
}

void http_cache_release_all(struct http_cache *c)
{
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < CACHE_SLOTS; i++) {
        if (c->slots[i]) {
            unlink_slot(c, i);
        }
    }
    pthread_mutex_unlock(&c->lock);
    pthread_mutex_destroy(&c->lock);
}

struct cache_entry *http_cache_get(struct http_cache *c, const char *key, const int64_t fp[2])
{
    struct cache_entry *found = NULL;

    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < CACHE_SLOTS; i++) {
        struct cache_entry *e = c->slots[i];

        if (e && e->fp[0] == fp[0] && e->fp[1] == fp[1] && strcmp(e->key, key) == 0) {
            e->refs++;
            e->used = ++c->tick;
            found = e;
            break;
        }
    }
    pthread_mutex_unlock(&c->lock);
    return found;
}

/* Caller holds the lock: makes room for e and stores it. */
static void publish(struct http_cache *c, struct cache_entry *e)
{
    size_t need = entry_bytes(e), victim = CACHE_SLOTS;

    for (size_t i = 0; i < CACHE_SLOTS; i++) {
        if (c->slots[i] && strcmp(c->slots[i]->key, e->key) == 0) {
            unlink_slot(c, i); /* an older version of the same target */
        }
    }
    for (;;) {
        size_t free_slot = CACHE_SLOTS;
        uint64_t oldest = UINT64_MAX;

        victim = CACHE_SLOTS;
        for (size_t i = 0; i < CACHE_SLOTS; i++) {
            if (!c->slots[i]) {
                free_slot = free_slot == CACHE_SLOTS ? i : free_slot;
            } else if (c->slots[i]->used < oldest) {
                oldest = c->slots[i]->used;
                victim = i;
            }
        }
        if (free_slot != CACHE_SLOTS && c->bytes + need <= c->max_bytes) {
            c->slots[free_slot] = e;
            c->bytes += need;
            e->cache = c;
            e->used = ++c->tick;
            return;
        }
        if (victim == CACHE_SLOTS) {
            break; /* empty cache and still too big: keep it uncached */
        }
        unlink_slot(c, victim);
    }
    e->dead = true;
}

struct cache_entry *http_entry_new(struct http_cache *c, const char *key, const int64_t fp[2],
                                   const char *ctype, char *body, size_t len, bool compress)
{
    struct cache_entry *e = calloc(1, sizeof(*e));

    if (!e) {
        free(body);
        return NULL;
    }
    e->body = body;
    e->len = len;
    e->ctype = ctype;
    e->refs = 1;
    e->compressible = compress;
    if (fp) {
        e->fp[0] = fp[0];
        e->fp[1] = fp[1];
    }
    if (compress && len >= HTTP_GZIP_MIN && http_gzip(body, len, &e->gz, &e->gzlen)) {
        e->gz = NULL; /* send it uncompressed */
        e->gzlen = 0;
    }
    if (!c || !key || entry_bytes(e) > c->max_bytes / 4) {
        e->dead = true;
        return e;
    }
    e->key = strdup(key);
    if (!e->key) {
        e->dead = true;
        return e;
    }
    e->cache = c;
    pthread_mutex_lock(&c->lock);
    publish(c, e);
    pthread_mutex_unlock(&c->lock);
    return e;
}

void http_entry_release(struct cache_entry *e)
{
    struct http_cache *c;
    bool gone;

    if (!e) {
        return;
    }
    c = e->cache;
    if (!c) {
        entry_free(e);
        return;
    }
    pthread_mutex_lock(&c->lock);
    gone = --e->refs == 0 && e->dead;
    pthread_mutex_unlock(&c->lock);
    if (gone) {
        entry_free(e);
    }
}
