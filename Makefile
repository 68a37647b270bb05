# Bouchon build.  `make` builds build/bouchon; `make check` builds and runs the
# C unit tests; `make SANITIZE=1` builds everything under ASan+UBSan into
# build-asan/.  scripts/test.sh runs the whole suite (unit, integration,
# browser); it is what the README and .ci/run call.

CC      ?= gcc
PKGS    := libcurl jansson sqlite3 libmicrohttpd rdkafka libxxhash zlib
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN    := -Wall -Wextra -Werror -Wstrict-prototypes -Wmissing-prototypes -Wvla \
           -Wwrite-strings -Wshadow -Wno-missing-field-initializers
CSTD    := -std=c17
OPT     ?= -O2 -g

ifeq ($(SANITIZE),1)
BUILD   ?= build-asan
OPT     := -O1 -g -fno-omit-frame-pointer
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all
else
BUILD   ?= build
SANFLAGS :=
endif

CFLAGS_ALL := $(CSTD) $(OPT) $(WARN) $(SANFLAGS) -Isrc $(PKG_CFLAGS) $(CFLAGS)
LDLIBS_ALL := $(PKG_LIBS) -lm -lpthread $(LDLIBS)

LIB_SRC  := $(sort $(shell find src -name '*.c' ! -path 'src/main.c'))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
SQL_SRC  := $(sort $(wildcard src/warehouse/schema_v*.sql))
SQL_GEN  := $(BUILD)/gen/schema_sql.h
TEST_SRC := $(sort $(wildcard tests/unit/test_*.c))
TEST_BIN := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))

.PHONY: all check clean format format-check fuzz web

all: $(BUILD)/bouchon

$(BUILD)/bouchon: $(BUILD)/obj/src/main.o $(BUILD)/libbouchon.a
	$(CC) $(CFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL)

$(BUILD)/libbouchon.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

# The migrations are SQL files, embedded as C string literals at build time.
$(SQL_GEN): $(SQL_SRC) scripts/embed_sql.sh
	@mkdir -p $(dir $@)
	sh scripts/embed_sql.sh $(SQL_SRC) > $@

$(BUILD)/obj/src/warehouse/db.o: $(SQL_GEN)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -I$(BUILD)/gen -MMD -MP -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libbouchon.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Itests -o $@ $< $(BUILD)/libbouchon.a $(LDLIBS_ALL) -lcmocka

# CHECK_SKIP: test names left out of this run (scripts/test.sh --sanitize uses it).
CHECK_SKIP ?=
check: $(TEST_BIN)
	@sh scripts/run_unit_tests.sh $(filter-out $(CHECK_SKIP:%=$(BUILD)/tests/%),$(TEST_BIN))

# libFuzzer targets need clang; `make fuzz` builds them into build-fuzz/.
fuzz:
	@sh scripts/build_fuzzers.sh

web:
	sh web/build.sh $(BUILD)/web

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan build-fuzz

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
