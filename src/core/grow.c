/*
 * grow.c - bch_reserve(): see grow.h.
 */
#include "core/compat.h"

#include "core/grow.h"

void *bch_reserve(void *arr, size_t *cap, size_t need, size_t elem, size_t first)
{
    size_t ncap;
    void *n;

    if (need == 0) {
        need = 1;
    }
    if (arr && need <= *cap) {
        return arr;
    }
    ncap = arr && *cap ? *cap : (first ? first : 1);
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2) {
            return NULL;
        }
        ncap *= 2;
    }
    if (elem == 0 || ncap > SIZE_MAX / elem) {
        return NULL;
    }
    n = realloc(arr, ncap * elem);
    if (!n) {
        return NULL;
    }
    *cap = ncap;
    return n;
}
