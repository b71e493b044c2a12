// The loupe command line, callable from tests: run_cli(argc, argv) parses, runs one
// command and returns the exit code. Every error prints one line "loupe: error: ..."
// to stderr, naming the option or value at fault.
//   0  done (also --help and --version).
//   2  usage error, found by CLI11 while reading the command line: an unknown command
//      (named, with the valid ones), an unknown option, a missing required option or
//      value, a value of the wrong kind (text for a number, an empty --out), a name not
//      among an option's choices (--model, --methods, --preset, ...).
//   1  loupe::Error: a value that reads fine but is out of range or contradicts another
//      ("--probe-images -1: expected a number from 1 to 100000"), a missing or
//      unwritable file or folder, an output folder another run holds or with a link
//      inside, or any failure while running.
// Each command checks all its values (ranges, method names, --out writable, not in use
// and free of links) before any data loading, training or rendering, so a bad value
// fails at once and writes nothing.
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
Runner add_attack_command(CLI::App& app);  // `loupe attack` (cmd_attack.cpp)
Runner add_probe_command(CLI::App& app);   // `loupe probe visualize|top|dissect|sae` (cmd_probe.cpp)
Runner add_study_command(CLI::App& app);
Runner add_demo_command(CLI::App& app);
Runner add_data_command(CLI::App& app);   // `loupe data anomalies` (cmd_data.cpp)
Runner add_merge_command(CLI::App& app);  // `loupe merge` (cmd_merge.cpp)

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
StudyCommand add_study_anomaly(CLI::App& study);
StudyCommand add_study_robustness(CLI::App& study);
StudyCommand add_study_probe(CLI::App& study);

}  // namespace loupe::cli
