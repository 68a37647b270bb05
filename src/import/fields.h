/*
 * fields.h - bounded parsers for the cells of imported files.
 *
 * The exports of the métropole spell the same value in several ways: "5110"
 * and "5110.0", "-0,7%" (the 2018 counts), "None" or "" for nothing, "#N/A"
 * (an Excel artefact in code columns), free text holding DD/MM/YYYY dates.
 * Every function here takes a pointer and a length (CSV fields are not
 * NUL-terminated), never reads past it, and reports failure instead of
 * guessing: the caller decides whether a bad cell rejects the row.
 */
#ifndef BCH_IMPORT_FIELDS_H
#define BCH_IMPORT_FIELDS_H

#include "core/compat.h"

#include <jansson.h>

/* Outcome of a cell parser. */
enum bch_cell {
    BCH_CELL_NULL = 0, /* empty, "None", "null", "NULL", "NaN"-free nothing */
    BCH_CELL_OK = 1,   /* *out set */
    BCH_CELL_NA = -1,  /* the spreadsheet error code "#N/A" (or "#N/D") */
    BCH_CELL_BAD = -2, /* present but not a value of the expected kind */
};

/* True for "", "None", "null", "NULL" and blanks only. */
bool bch_cell_is_null(const char *s, size_t len);

/*
 * A decimal number: optional sign, digits, optional '.', digits, optional
 * exponent; surrounding blanks allowed.  Rejects "nan", "inf", hex and any
 * trailing text.  The result is the correctly rounded double (a fast path
 * for up to 15 significant digits, strtod otherwise).
 */
enum bch_cell bch_cell_double(const char *s, size_t len, double *out);

/* A whole number (optional sign, digits; "12.0" accepted as 12). */
enum bch_cell bch_cell_int64(const char *s, size_t len, int64_t *out);

/*
 * A number as the annual counts spell it: "16.1", "5110.0", or the French
 * percent strings of 2018, "-0,7%" / "10,0%" (comma decimal, '%' dropped:
 * the value is in percent either way).
 */
enum bch_cell bch_cell_fr_number(const char *s, size_t len, double *out);

/* A text code: BCH_CELL_NA for "#N/A", NULL for empty, else OK. */
enum bch_cell bch_cell_code(const char *s, size_t len);

/*
 * Finds the first two DD/MM/YYYY dates in free text ("comptage du 28/02/2015
 * au 06/03/2015", "du lundi 05/09/2022 au dimanche 11/09/2022") and returns
 * them as days since 1970-01-01.  Returns the number found (0, 1 or 2); a
 * pattern with an impossible date (31/02) counts as not found.  With one
 * date, *d2 = *d1.
 */
int bch_cell_dmy_dates(const char *s, size_t len, int64_t *d1, int64_t *d2);

/* "YYYY-MM-DD" as days since 1970-01-01; -1 if it is not one. */
int bch_cell_ymd(const char *s, size_t len, int64_t *day);

/*
 * JSON counterparts: a member that is a number, a numeric string or (with
 * fr) a French percent string.  Absent members and null give BCH_CELL_NULL;
 * arrays, objects and booleans give BCH_CELL_BAD.
 */
enum bch_cell bch_json_double(const json_t *v, bool fr, double *out);
enum bch_cell bch_json_int64(const json_t *v, int64_t *out);

/* A JSON string (or number, printed) copied to buf; NULL/absent give "" and BCH_CELL_NULL. */
enum bch_cell bch_json_text(const json_t *v, char *buf, size_t len);

/* ASCII case-insensitive comparison of a counted name with a C string. */
bool bch_name_eq(const char *s, size_t len, const char *name);

#endif
