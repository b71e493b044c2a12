// loupe data anomalies: the built-in anomaly-detection data, written in the MVTec AD layout
#include <torch/torch.h>

#include <chrono>
#include <iostream>
#include <set>

#include "common.h"
#include "loupe/cli.h"
#include "loupe/core/error.h"
#include "loupe/core/option_checks.h"
#include "loupe/core/output_dir.h"
#include "loupe/core/progress.h"
#include "loupe/data/anomaly_synth.h"

namespace loupe::cli {
namespace {

// A `loupe data` subcommand with the function that runs it.
struct DataCommand {
  CLI::App* command;
  Runner run;
};

struct AnomaliesFlags {
  std::string out = "loupe-data/anomalies", photos;
  int64_t seed = 0;  // signed, so that "--seed -1" is caught rather than wrapped
  AnomalySynthOptions o;
};

void run_anomalies(AnomaliesFlags& f) {
  check_count("--seed", f.seed, 0, kNoLimit);
  check_count("--size", f.o.size, 32, 1024);
  check_count("--train-images", f.o.train_images, 1, 100000);
  check_count("--test-good", f.o.test_good, 0, 100000);
  check_count("--test-defective", f.o.test_defective, 0, 100000);
  std::set<std::string> seen;
  for (const auto& c : f.o.categories)
    LOUPE_CHECK(seen.insert(c).second, "--categories: category '", c, "' is listed twice");
  f.o.seed = static_cast<uint64_t>(f.seed);
  check_anomaly_synth_options(f.o);
  // Photos are read before the folder is opened: a missing photo leaves nothing behind.
  std::vector<AnomalySource> sources;
  for (const auto& c : f.o.categories) sources.push_back(load_anomaly_source(c, f.photos));
  const OutputDir folder(f.out, OutputDirOptions().set_final_files({}).set_subfolders(f.o.categories));
  const auto started = std::chrono::steady_clock::now();
  for (const auto& source : sources) write_anomaly_category(folder.path(), source, f.o);
  for (const auto& c : f.o.categories)
    std::cout << (folder.path() / c).string() << ": " << f.o.train_images << " train, " << f.o.test_good
              << " good test, " << f.o.test_defective << " defective test images ("
              << join_names(anomaly_defect_kinds(c)) << "), " << f.o.size << "x" << f.o.size << "\n";
  std::cout << "written in " << static_cast<int64_t>(seconds_since(started) + 0.5) << " s\n";
}

DataCommand add_anomalies_command(CLI::App& data) {
  auto* cmd = data.add_subcommand(
      "anomalies",
      "Write anomaly-detection data in the MVTec AD layout: textures cut from scikit-image's photos, a "
      "procedural hazelnut, defects with exact masks");
  cmd->footer(
      "Writes OUT/CATEGORY/{train/good,test/good,test/<defect>}/NNN.png and ground_truth/<defect>/NNN_mask.png.\n"
      "Texture categories need scikit-image's photos (scripts/fetch_photos.sh, LOUPE_PHOTOS=DIR or --photos DIR).\n"
      "Examples:\n  loupe data anomalies --out anomaly-data\n"
      "  loupe data anomalies --out anomaly-data --categories hazelnut --size 256 --seed 3");
  auto f = std::make_shared<AnomaliesFlags>();
  cmd->add_option("--out", f->out, "output folder (one folder per category)")
      ->check(non_empty_path())
      ->capture_default_str();
  cmd->add_option("--categories", f->o.categories, "comma-separated categories")
      ->delimiter(',')
      ->check(CLI::IsMember(anomaly_category_names()))
      ->capture_default_str();
  cmd->add_option("--seed", f->seed, "random seed >= 0 (every crop, pose and defect)")->capture_default_str();
  cmd->add_option("--size", f->o.size, "image side in pixels, 32 to 1024")->capture_default_str();
  cmd->add_option("--train-images", f->o.train_images, "defect-free training images per category")
      ->capture_default_str();
  cmd->add_option("--test-good", f->o.test_good, "defect-free test images per category")->capture_default_str();
  cmd->add_option("--test-defective", f->o.test_defective,
                  "defective test images per category, spread evenly over its defect kinds")
      ->capture_default_str();
  cmd->add_option("--photos", f->photos,
                  "folder holding scikit-image's brick.png, grass.png, gravel.png (default: "
                  "found as for 'loupe study compare')");
  return {cmd, [f] { run_anomalies(*f); }};
}

}  // namespace

Runner add_data_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("data", "Write built-in datasets to disk");
  cmd->require_subcommand(1, 1);
  const std::vector<DataCommand> commands = {add_anomalies_command(*cmd)};
  return [commands] {
    for (const auto& c : commands)
      if (c.command->parsed()) c.run();
  };
}

}  // namespace loupe::cli
