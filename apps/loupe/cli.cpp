#include "loupe/cli.h"

#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "loupe/core/compat.h"
#include "loupe/core/device.h"
#include "loupe/core/error.h"

namespace loupe::cli {

int run_cli(int argc, const char* const* argv) {
  CLI::App app{"loupe: audit vision models (train, explain, probe for shortcuts) and report in a browser"};
  app.set_version_flag("--version", std::string("loupe 0.1 (LibTorch ") + compat::torch_version() + ")");
  app.require_subcommand(1, 1);
  app.footer("Run 'loupe COMMAND --help' for a command's options and an example.");
  const std::vector<Runner> runners = {add_demo_command(app), add_study_command(app), add_train_command(app),
                                       add_eval_command(app), add_explain_command(app)};
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  init_threads();
  // Subcommands are listed in the order they were added, as the runners are.
  const auto subcommands = app.get_subcommands({});
  try {
    for (size_t i = 0; i < subcommands.size(); ++i)
      if (subcommands[i]->parsed()) runners[i]();
  } catch (const Error& e) {
    std::cerr << "loupe: error: " << e.what() << "\n";
    return 1;
  } catch (const c10::Error& e) {
    std::cerr << "loupe: error: " << e.what_without_backtrace() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "loupe: error: " << e.what() << "\n";
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
