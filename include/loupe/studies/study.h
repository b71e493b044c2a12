// What every study shares: the common options, and the name → runner registry that
// drives `loupe study <name>` and `loupe demo`.
#pragma once

#include <torch/types.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "loupe/core/fs.h"
#include "loupe/core/preset.h"
#include "loupe/report/report.h"

namespace loupe {

struct StudyCommon {
  Preset preset = Preset::kQuick;  // kQuick: a 2-core CPU, minutes; kPaper: the reference settings
  torch::Device device = torch::Device(torch::kCPU);
  uint64_t seed = 0;
  fs::path out = "loupe-out";  // report folder (report.html, metrics.json, models/)
};

// The report folders of the studies that already ran in this demo, by study name: a
// later study may start from an earlier one's models instead of training its own.
using EarlierStudies = std::map<std::string, fs::path>;

struct StudyEntry {
  std::string name;
  std::string description;  // one line, shown in the demo index and --help
  // Runs the study with its defaults for the common options and returns its report
  // (already written to common.out). `earlier` is empty outside the demo.
  std::function<report::Report(const StudyCommon&, const EarlierStudies& earlier)> run;
  // Why the study cannot run here (e.g. its data is missing), or "" when it can; the demo
  // skips it with that note. Unset = always runs.
  std::function<std::string()> unavailable;
};

const std::vector<StudyEntry>& studies();
// The registered study of that name; an unknown name is a loupe::Error listing them.
const StudyEntry& study_entry(const std::string& name);

}  // namespace loupe
