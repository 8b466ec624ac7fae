/* bob report: report.html and report.txt of the current build. */
#include "cli/commands.h"

int cmd_report(struct cli *cli, int argc, char **argv)
{
    return EXIT_ERROR;
}
