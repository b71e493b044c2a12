// The layout of an audit's results file (studies/dataset_audit.h): its root attributes
// (Header) and its row datasets, read and appended a block of rows at a time. Shared
// by the run, its resume, the consolidation of its batch files and `loupe merge`.
#pragma once

#include <torch/types.h>

#include <map>
#include <string>
#include <vector>

#include "loupe/core/h5.h"
#include "loupe/core/shard.h"

namespace loupe::audit {

constexpr const char* kFormat = "loupe explain results 1";

struct Header {
  std::string model, source, inputs, target, settings;  // inputs: JSON array of --images
  std::vector<std::string> methods;
  Shard shard;
  int64_t total_images = 0;  // in the whole dataset
  int64_t height = 0, width = 0, channels = 0, num_classes = 0;
  bool labels = false, faithfulness = false;

  std::vector<std::string> iou_pairs() const;  // "a/b" for every method pair a < b
  // The row datasets (numeric), in a fixed order; "id" (strings) comes besides.
  std::vector<std::string> row_datasets() const;
};

void write_header(h5::File& file, const Header& header);
Header read_header(const h5::File& file);  // errors name the file and the missing attribute
// Creates every row dataset, empty.
void create_rows(h5::File& file, const Header& header);
// "" when a and b come from one audit (their shards may differ); else what differs.
std::string difference(const Header& a, const Header& b);

// A block of rows: every row dataset's rows and the ids.
struct Rows {
  std::map<std::string, torch::Tensor> values;
  std::vector<std::string> ids;
  int64_t size() const { return static_cast<int64_t>(ids.size()); }
  Rows select(const std::vector<int64_t>& rows) const;
  static Rows cat(const std::vector<Rows>& parts);
};

Rows read_rows(const h5::File& file, const Header& header, int64_t first, int64_t count);
void append_rows(h5::File& file, const Header& header, const Rows& rows);
// Rows every dataset holds; a file whose datasets disagree (a damaged file) is an error.
int64_t row_count(const h5::File& file, const Header& header);

}  // namespace loupe::audit
