#include "loupe/cli.h"

#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <iostream>

#include "loupe/core/compat.h"
#include "loupe/core/device.h"
#include "loupe/core/error.h"

namespace loupe::cli {
namespace {

// A command line CLI11 cannot be blamed for: a word that names no command.
struct UnknownCommand {
  std::string message;
};

// Follows the leading words of args (before any option) down the command tree and
// returns the command path they name ("study bias"). CLI11 reports an unknown word as
// "A subcommand is required" without naming it, so unknown or missing commands are
// found here first.
std::string command_path(CLI::App& app, const std::vector<std::string>& args) {
  CLI::App* level = &app;
  std::string path;
  auto names_below = [](const CLI::App* a) {
    std::vector<std::string> names;
    for (const auto* sub : a->get_subcommands([](const CLI::App*) { return true; })) names.push_back(sub->get_name());
    return names;
  };
  for (const auto& word : args) {
    if (word.empty() || word[0] == '-') break;
    const auto names = names_below(level);
    if (names.empty()) break;  // the command's own positional arguments
    if (std::find(names.begin(), names.end(), word) == names.end())
      throw UnknownCommand{"unknown command '" + (path.empty() ? word : path + " " + word) + "'; expected one of " +
                           join_names(names) + " (see 'loupe " + (path.empty() ? "" : path + " ") + "--help')"};
    level = level->get_subcommand(word);
    path += (path.empty() ? "" : " ") + word;
  }
  const bool asks_help = std::any_of(args.begin(), args.end(), [](const std::string& a) {
    return a == "-h" || a == "--help" || a == "--help-all" || a == "--version";
  });
  if (!asks_help && level->get_require_subcommand_min() > 0)
    throw UnknownCommand{(path.empty() ? std::string("no command given") : "'loupe " + path + "' needs a command") +
                         "; expected one of " + join_names(names_below(level)) + " (see 'loupe " +
                         (path.empty() ? "" : path + " ") + "--help')"};
  return path;
}

std::string one_line(std::string text) {
  std::replace(text.begin(), text.end(), '\n', ' ');
  return text;
}

int usage_error(const std::string& message) {
  std::cerr << "loupe: error: " << one_line(message) << "\n";
  return 2;
}

}  // namespace

int run_cli(int argc, const char* const* argv) {
  CLI::App app{"loupe: audit vision models (train, explain, probe for shortcuts) and report in a browser"};
  app.set_version_flag("--version", std::string("loupe 0.1 (LibTorch ") + compat::torch_version() + ")");
  app.require_subcommand(1, 1);
  app.footer(
      "Run 'loupe COMMAND --help' for a command's options and an example.\n"
      "Exit status: 0 done, 1 an error (a value out of range, a file or folder, or a failure while running),\n"
      "2 a usage error (unknown command or option, a missing or malformed value, a name not among an option's "
      "choices).");
  const std::vector<Runner> runners = {add_demo_command(app),  add_study_command(app),   add_train_command(app),
                                       add_eval_command(app),  add_explain_command(app), add_attack_command(app),
                                       add_probe_command(app), add_data_command(app),    add_merge_command(app)};
  std::string path;
  try {
    path = command_path(app, std::vector<std::string>(argv + std::min(argc, 1), argv + argc));
    app.parse(argc, argv);
  } catch (const UnknownCommand& e) {
    return usage_error(e.message);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    return usage_error(std::string(e.what()) + " (see 'loupe " + (path.empty() ? "" : path + " ") + "--help')");
  }
  init_threads();
  // Subcommands are listed in the order they were added, as the runners are.
  const auto subcommands = app.get_subcommands({});
  try {
    for (size_t i = 0; i < subcommands.size(); ++i)
      if (subcommands[i]->parsed()) runners[i]();
  } catch (const Error& e) {
    std::cerr << "loupe: error: " << one_line(e.what()) << "\n";
    return 1;
  } catch (const c10::Error& e) {
    std::cerr << "loupe: error: " << one_line(e.what_without_backtrace()) << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "loupe: error: " << one_line(e.what()) << "\n";
    return 1;
  }
  return 0;
}

int run_cli(const std::vector<std::string>& args) {
  std::vector<const char*> argv{"loupe"};
  for (const auto& a : args) argv.push_back(a.c_str());
  return run_cli(static_cast<int>(argv.size()), argv.data());
}

}  // namespace loupe::cli
