#include "core/compat.h"

#include <xxhash.h>

#include "core/hash.h"

static void to_hex(XXH128_hash_t h, char out[BCH_HASH_HEX])
{
    static const char hex[] = "0123456789abcdef";
    uint64_t parts[2] = {h.high64, h.low64};

    for (int p = 0; p < 2; p++) {
        for (int i = 0; i < 16; i++) {
            out[p * 16 + i] = hex[(parts[p] >> (60 - 4 * i)) & 0xF];
        }
    }
    out[32] = '\0';
}

void bch_hash_hex(const void *data, size_t len, char out[BCH_HASH_HEX])
{
    to_hex(XXH3_128bits(data, len), out);
}

/* The opaque hasher is xxhash's streaming state itself. */
struct bch_hasher *bch_hasher_new(void)
{
    XXH3_state_t *st = XXH3_createState();

    if (st && XXH3_128bits_reset(st) != XXH_OK) {
        XXH3_freeState(st);
        st = NULL;
    }
    return (struct bch_hasher *)st;
}

void bch_hasher_add(struct bch_hasher *h, const void *data, size_t len)
{
    XXH3_128bits_update((XXH3_state_t *)h, data, len);
}

void bch_hasher_finish(struct bch_hasher *h, char out[BCH_HASH_HEX])
{
    to_hex(XXH3_128bits_digest((XXH3_state_t *)h), out);
    bch_hasher_free(h);
}

void bch_hasher_free(struct bch_hasher *h)
{
    XXH3_freeState((XXH3_state_t *)h);
}

uint64_t bch_hash64(const void *data, size_t len)
{
    return XXH3_64bits(data, len);
}
