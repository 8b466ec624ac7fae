/* bob: a sandbox supervisor for bulk package builds. */
#include "cli/cli.h"

int main(int argc, char **argv)
{
    return cli_main(argc, argv);
}
