#include "loupe/cli.h"

int main(int argc, char** argv) { return loupe::cli::run_cli(argc, argv); }
