// loupe study <name> (each study in its own cmd_study_<name>.cpp) / loupe demo
#include <torch/torch.h>

#include <chrono>
#include <iostream>

#include "common.h"
#include "loupe/cli.h"
#include "loupe/core/error.h"
#include "loupe/core/output_dir.h"
#include "loupe/models/zoo.h"
#include "loupe/report/report.h"
#include "loupe/studies/study.h"

namespace loupe::cli {

Runner add_study_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("study", "Run a whole workflow and write its report");
  cmd->require_subcommand(1, 1);
  const std::vector<StudyCommand> commands = {
      add_study_bias(*cmd),    add_study_compare(*cmd),    add_study_disentangle(*cmd), add_study_outliers(*cmd),
      add_study_anomaly(*cmd), add_study_robustness(*cmd), add_study_probe(*cmd)};
  return [commands] {
    for (const auto& c : commands)
      if (c.command->parsed()) c.run();
  };
}

Runner add_demo_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("demo", "Run every study's quick preset on built-in data and write one index page");
  cmd->footer("Example:\n  loupe demo --out loupe-demo   # then open loupe-demo/index.html");
  auto f = std::make_shared<CommonFlags>(CommonFlags{"auto", 0, "loupe-demo"});
  add_common_flags(cmd, *f, "output folder (index.html and one folder per study)");
  return [f] {
    check_common_flags(*f);
    const fs::path out = f->out;
    std::vector<std::string> study_folders;
    for (const auto& study : studies()) study_folders.push_back(study.name);
    const OutputDir folder(out, OutputDirOptions()
                                    .set_final_files({"index.html", "report.html", "metrics.json"})
                                    .set_subfolders(study_folders));
    report::Report index("loupe demo", "every study's quick preset on built-in data");
    EarlierStudies earlier;
    index.section("Studies");
    for (const auto& study : studies()) {
      const std::string missing = study.unavailable ? study.unavailable() : "";
      if (!missing.empty()) {
        std::cout << "== study " << study.name << ": skipped, " << missing << "\n";
        index.text(study.name + ": skipped, " + missing + ".");
        index.metric(study.name + ".skipped", missing);
        continue;
      }
      std::cout << "== study " << study.name << ": " << study.description << std::endl;
      StudyCommon common;
      common.preset = Preset::kQuick;
      common.device = resolve_device(f->device);
      common.seed = static_cast<uint64_t>(f->seed);
      common.out = out / study.name;
      seed_everything(common.seed);
      const auto started = std::chrono::steady_clock::now();
      const auto r = study.run(common, earlier);
      earlier[study.name] = common.out;
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      index.link(study.name + ": " + r.title(), study.name + "/report.html");
      index.text(study.description + " (" + std::to_string(static_cast<int64_t>(seconds)) + " s)");
      index.metric(study.name, r.metrics());
      index.metric(study.name + ".seconds", seconds);
      std::cout << "   report: " << (common.out / "report.html").string() << "\n";
    }
    index.write(out);
    // The index is report.html like every report; index.html is the name people look for.
    write_file_atomic(out / "index.html", index.html());
    std::cout << "demo index: " << (out / "index.html").string() << "\n";
  };
}

}  // namespace loupe::cli
