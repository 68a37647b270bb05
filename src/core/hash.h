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

/*
 * The same digest computed over several pieces (a file read in chunks, a
 * tag then a payload): new, add each piece, finish.  bch_hasher_new()
 * returns NULL when out of memory; finish writes the hex digest and frees h;
 * free drops a hasher without a digest (NULL is fine).
 */
struct bch_hasher;
struct bch_hasher *bch_hasher_new(void);
void bch_hasher_add(struct bch_hasher *h, const void *data, size_t len);
void bch_hasher_finish(struct bch_hasher *h, char out[BCH_HASH_HEX]);
void bch_hasher_free(struct bch_hasher *h);

/* 64-bit XXH3, for in-memory tables. */
uint64_t bch_hash64(const void *data, size_t len);

#endif
