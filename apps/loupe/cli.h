// The loupe command line, callable from tests: run_cli(argc, argv) parses, runs one
// command and returns the exit code (0 ok, 1 a loupe::Error, 2 a usage error). User
// errors print one line "loupe: error: ..." to stderr.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace loupe::cli {

int run_cli(int argc, const char* const* argv);
int run_cli(const std::vector<std::string>& args);  // args without the program name

// Each command registers its subcommand and options on the app and returns the
// function that runs it after parsing.
using Runner = std::function<void()>;
Runner add_train_command(CLI::App& app);
Runner add_eval_command(CLI::App& app);
Runner add_explain_command(CLI::App& app);
Runner add_study_command(CLI::App& app);
Runner add_demo_command(CLI::App& app);

// `loupe study <name>`: each study registers its subcommand on `study` and returns it
// with its runner; one file per study (cmd_study_<name>.cpp).
struct StudyCommand {
  CLI::App* command;
  Runner run;
};
StudyCommand add_study_bias(CLI::App& study);
StudyCommand add_study_compare(CLI::App& study);
StudyCommand add_study_outliers(CLI::App& study);
StudyCommand add_study_disentangle(CLI::App& study);

}  // namespace loupe::cli
