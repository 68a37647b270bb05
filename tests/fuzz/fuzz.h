/*
 * fuzz.h - what every libFuzzer target of tests/fuzz/ defines.
 *
 * Each fuzz_*.c file is one target: built with clang -fsanitize=fuzzer by
 * scripts/build_fuzzers.sh, or linked with replay_corpus.c by a plain C
 * compiler to re-run saved inputs.  A target abort()s (through FUZZ_CHECK)
 * when an invariant of the code under test does not hold, so that a wrong
 * answer is reported like a crash.
 */
#ifndef BCH_FUZZ_H
#define BCH_FUZZ_H

#include "core/compat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#endif
