#include "core/compat.h"
#include "cli/cli.h"
int cmd_fetch(int argc, char **argv) { (void)argc; (void)argv; return 1; }
int cmd_run(int argc, char **argv) { (void)argc; (void)argv; return 1; }
int cmd_serve(int argc, char **argv) { (void)argc; (void)argv; return 1; }
