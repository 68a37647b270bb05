/*
 * hash.h - content hashes for idempotent loading.
 *
 * XXH3-128 (libxxhash, Debian) written as 32 lowercase hex digits.  Not a
 * cryptographic hash: it only has to make accidental collisions negligible
 * (2^-64 for a billion records), and it runs at memory speed.
 */
#ifndef BCH_HASH_H
#define BCH_HASH_H

#include "core/compat.h"

#define BCH_HASH_HEX 33 /* 32 digits + NUL */

/* Writes the hex XXH3-128 of data[0..len) to out (BCH_HASH_HEX bytes). */
void bch_hash_hex(const void *data, size_t len, char out[BCH_HASH_HEX]);

/* 64-bit XXH3, for in-memory tables. */
uint64_t bch_hash64(const void *data, size_t len);

#endif
