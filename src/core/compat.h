/*
 * compat.h - first include of every Bouchon .c file.
 *
 * Sets the feature macros once, pulls in the few standard headers every module
 * uses, defines the attributes we rely on, and finally includes banned.h so
 * that unsafe libc calls fail to compile in our own code.
 */
#ifndef BCH_COMPAT_H
#define BCH_COMPAT_H

#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE 1
#endif

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BCH_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
/* A macro's value as a string literal: BCH_STR(900) is "900" (for SQL text). */
#define BCH_STR_(x)      #x
#define BCH_STR(x)       BCH_STR_(x)
#define BCH_WUR          __attribute__((warn_unused_result))
#define BCH_UNUSED       __attribute__((unused))
#define BCH_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#include "core/banned.h"

#endif
