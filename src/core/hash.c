#include "core/compat.h"

#include <xxhash.h>

#include "core/hash.h"

void bch_hash_hex(const void *data, size_t len, char out[BCH_HASH_HEX])
{
    static const char hex[] = "0123456789abcdef";
    XXH128_hash_t h = XXH3_128bits(data, len);
    uint64_t parts[2] = {h.high64, h.low64};

    for (int p = 0; p < 2; p++) {
        for (int i = 0; i < 16; i++) {
            out[p * 16 + i] = hex[(parts[p] >> (60 - 4 * i)) & 0xF];
        }
    }
    out[32] = '\0';
}

uint64_t bch_hash64(const void *data, size_t len)
{
    return XXH3_64bits(data, len);
}
