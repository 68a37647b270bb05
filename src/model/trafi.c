#include "core/compat.h"

#include "model/trafi.h"

static const char *const state_names[BCH_STATE_COUNT] = {"INCONNU", "FLUIDE", "DENSE",
                                                         "EMBOUTEILLE", "PARALYSE"};

const char *bch_state_name(int state)
{
    if (state < 0 || state >= BCH_STATE_COUNT) {
        return "INCONNU";
    }
    return state_names[state];
}

int bch_state_parse(const char *s, size_t len)
{
    char up[24];
    size_t n = 0;

    while (len > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
    }
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t')) {
        len--;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        /* É (U+00C9) and é (U+00E9) in UTF-8 are C3 89 and C3 A9. */
        if (c == 0xC3 && i + 1 < len &&
            ((unsigned char)s[i + 1] == 0x89 || (unsigned char)s[i + 1] == 0xA9)) {
            c = 'E';
            i++;
        } else if (c >= 'a' && c <= 'z') {
            c = (unsigned char)(c - 'a' + 'A');
        }
        if (n + 1 >= sizeof(up)) {
            return -1;
        }
        up[n++] = (char)c;
    }
    up[n] = '\0';
    for (int st = 0; st < BCH_STATE_COUNT; st++) {
        if (strcmp(up, state_names[st]) == 0) {
            return st;
        }
    }
    return -1;
}
