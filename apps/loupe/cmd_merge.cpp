// loupe merge SHARD... --out DIR: the shards of a `loupe explain --results h5 --shard K/N`
// job array into one results.h5 and one report.
#include <torch/torch.h>

#include <iostream>

#include "common.h"
#include "loupe/cli.h"
#include "loupe/core/error.h"
#include "loupe/core/output_dir.h"
#include "loupe/studies/dataset_audit.h"

namespace loupe::cli {

Runner add_merge_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("merge", "Merge the shards of a sharded 'loupe explain --results h5' run");
  cmd->footer(
      "Example (a Slurm array of 4 tasks, then one merge job; docs/slurm/):\n"
      "  loupe explain --methods gradcam,lime --checkpoint lazy.pt --images val-images-idx3-ubyte --results h5 \\\n"
      "      --out audit/shard-$SLURM_ARRAY_TASK_ID        # shard K/N from SLURM_ARRAY_TASK_ID/COUNT\n"
      "  loupe merge audit/shard-* --out audit/merged\n"
      "Checks that the shards come from one audit (same model, images, methods and settings) and cover every\n"
      "image exactly once, then writes results.h5 (in dataset order), report.html and metrics.json.");
  struct Flags {
    std::vector<std::string> shards;
    std::string out;
  };
  auto f = std::make_shared<Flags>();
  cmd->add_option("shards", f->shards, "the shards' output folders (each holding results.h5)")->required();
  cmd->add_option("--out", f->out, "output folder (results.h5, report.html, metrics.json)")
      ->required()
      ->check(non_empty_path());
  return [f] {
    std::vector<fs::path> dirs;
    for (const auto& s : f->shards) {
      std::error_code ec;
      LOUPE_CHECK(fs::is_directory(s, ec), "shard folder ", s, ": not found (expected a 'loupe explain --out' folder)");
      LOUPE_CHECK(fs::weakly_canonical(s, ec) != fs::weakly_canonical(f->out, ec), "--out ", f->out,
                  ": is one of the shards; merge into another folder");
      dirs.emplace_back(s);
    }
    const OutputDir folder(f->out, OutputDirOptions().set_final_files({"report.html", "metrics.json", kResultsFile}));
    const auto images = merge_audit_results(dirs, f->out);
    audit_report(fs::path(f->out) / kResultsFile).write(f->out);
    std::cout << "merged " << dirs.size() << " shard(s): " << images << " images\n"
              << "results: " << (fs::path(f->out) / kResultsFile).string() << "\n"
              << "report: " << (fs::path(f->out) / "report.html").string() << "\n";
  };
}

}  // namespace loupe::cli
