/*
 * banned.h - libc functions Bouchon code must not call.
 *
 * Unbounded copies and parsers without error reporting are the usual source
 * of overflows and silent garbage on outside input.  Use snprintf, memcpy with
 * an explicit bound, and the checked parsers of core/strparse.h instead.
 * Included last by compat.h; system headers are already in, so only our own
 * code sees these poisoned names.
 */
#ifndef BCH_BANNED_H
#define BCH_BANNED_H

#pragma GCC poison strcpy strcat sprintf vsprintf gets strtok atoi atol atoll sscanf

#endif
