// Explaining a whole dataset, in batches, into one HDF5 results file: `loupe explain
// --results h5` (and `--shard K/N` on a job array), `loupe merge`. Memory is bounded by
// the batch. Each finished batch is written to its own small file in `partial/`
// (written under a temporary name, then renamed), so a run killed at any moment loses at
// most the batch in flight, and `resume` explains only the images no finished batch
// holds; when every batch is done they are concatenated into `results.h5` and
// `partial/` is removed.
//
// results.h5 (rows = images, in dataset order; see docs/results-h5.md):
//   position int64 [n]  the image's index in the whole dataset (shards interleave)
//   id       string [n] its file path, or "<file>#<index>"
//   predicted, explained_class int64 [n]; probability float64 [n] (softmax of the
//   explained class); label int64 [n] when the source has labels
//   maps/<method> float32 [n,H,W]; seconds/<method>, evaluations/<method> float64 [n]
//   iou float64 [n,P] (method pairs in attribute iou_pairs, "a/b,a/c,...")
//   deletion_auc/<method>, insertion_auc/<method> float64 [n] with faithfulness
// Root attributes: format, model, source, inputs, methods, target, settings, shard_index,
// shard_count, total_images, height, width, channels, num_classes, complete.
#pragma once

#include <string>
#include <vector>

#include "loupe/core/fs.h"
#include "loupe/core/shard.h"
#include "loupe/data/image_stream.h"
#include "loupe/models/zoo.h"
#include "loupe/report/report.h"
#include "loupe/studies/compare.h"

namespace loupe {

struct DatasetAuditOptions {
  CompareOptions compare;       // methods and their options, IoU threshold, faithfulness
  std::string target = "top1";  // "top1" or a class index for every image
  // The options that shape the maps, as text (the CLI writes its flags as JSON): a
  // resume or a merge refuses results written with other settings.
  std::string settings;
  int64_t batch = 64;               // images per batch (memory bound; at most this is lost to a kill)
  Shard shard;                      // which images of the dataset (default all)
  bool resume = false;              // keep the finished batches of an earlier run in `out`
  fs::path out;                     // the run's folder (held open by the caller)
  std::string model_name;           // recorded in the results
  std::vector<std::string> inputs;  // the dataset as given (--images), recorded for reports
  int64_t size = 0;                 // resize images to size x size (recorded)
  bool quiet = false;               // no progress bar
};

struct DatasetAuditResult {
  int64_t images = 0;     // in this run's shard
  int64_t explained = 0;  // by this call (images - explained were resumed)
  double seconds = 0;
  fs::path results;  // out/results.h5
};

constexpr const char* kResultsFile = "results.h5";

DatasetAuditResult audit_dataset(TappedModel& model, const ModelSpec& spec, ImageStream& images,
                                 const DatasetAuditOptions& options);

// Checks that the shard folders' results.h5 files come from one audit (same dataset,
// model, methods and settings; shard counts equal) and cover its images exactly once,
// then writes out/results.h5 in dataset order. Returns the number of images.
int64_t merge_audit_results(const std::vector<fs::path>& shard_dirs, const fs::path& out);

// The report of a results file: aggregate tables (agreement, faithfulness, time,
// predictions), distributions, and the images where methods agree least and most (and
// the least and most faithful maps), re-read from `images` when given (else from the
// inputs recorded in the file, when they can still be opened).
report::Report audit_report(const fs::path& results_file, ImageStream* images = nullptr);

}  // namespace loupe
