#include "audit_results.h"

#include <torch/torch.h>

#include <algorithm>

#include "loupe/core/error.h"

namespace loupe::audit {
namespace {

std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> out;
  size_t from = 0;
  while (from <= text.size() && !text.empty()) {
    const auto comma = text.find(',', from);
    out.push_back(text.substr(from, comma - from));
    if (comma == std::string::npos) break;
    from = comma + 1;
  }
  return out;
}

// Rows of images per chunk: about 256 KiB of maps, at least 1, at most 1024.
int64_t chunk_rows(const Header& h) {
  return std::clamp<int64_t>((256 * 1024) / std::max<int64_t>(1, 4 * h.height * h.width), 1, 1024);
}

}  // namespace

std::vector<std::string> Header::iou_pairs() const {
  std::vector<std::string> pairs;
  for (size_t a = 0; a < methods.size(); ++a)
    for (size_t b = a + 1; b < methods.size(); ++b) pairs.push_back(methods[a] + "/" + methods[b]);
  return pairs;
}

std::vector<std::string> Header::row_datasets() const {
  std::vector<std::string> names = {"position", "predicted", "explained_class", "probability"};
  if (labels) names.push_back("label");
  for (const auto& m : methods) {
    names.push_back("maps/" + m);
    names.push_back("seconds/" + m);
    names.push_back("evaluations/" + m);
    if (faithfulness) {
      names.push_back("deletion_auc/" + m);
      names.push_back("insertion_auc/" + m);
    }
  }
  if (methods.size() >= 2) names.push_back("iou");
  return names;
}

void write_header(h5::File& f, const Header& h) {
  f.set_attr("format", std::string(kFormat));
  f.set_attr("model", h.model);
  f.set_attr("source", h.source);
  f.set_attr("inputs", h.inputs);
  f.set_attr("target", h.target);
  f.set_attr("settings", h.settings);
  f.set_attr("methods", join_names(h.methods, ","));
  f.set_attr("iou_pairs", join_names(h.iou_pairs(), ","));
  f.set_attr("shard_index", h.shard.index);
  f.set_attr("shard_count", h.shard.count);
  f.set_attr("total_images", h.total_images);
  f.set_attr("height", h.height);
  f.set_attr("width", h.width);
  f.set_attr("channels", h.channels);
  f.set_attr("num_classes", h.num_classes);
  f.set_attr("labels", int64_t{h.labels});
  f.set_attr("faithfulness", int64_t{h.faithfulness});
}

Header read_header(const h5::File& f) {
  LOUPE_CHECK(f.has_attr("format") && f.attr_string("format") == kFormat, f.path().string(),
              ": not a loupe explain results file (expected the attribute format = '", kFormat, "')");
  Header h;
  h.model = f.attr_string("model");
  h.source = f.attr_string("source");
  h.inputs = f.attr_string("inputs");
  h.target = f.attr_string("target");
  h.settings = f.attr_string("settings");
  h.methods = split(f.attr_string("methods"));
  h.shard.index = f.attr_int("shard_index");
  h.shard.count = f.attr_int("shard_count");
  h.total_images = f.attr_int("total_images");
  h.height = f.attr_int("height");
  h.width = f.attr_int("width");
  h.channels = f.attr_int("channels");
  h.num_classes = f.attr_int("num_classes");
  h.labels = f.attr_int("labels") != 0;
  h.faithfulness = f.attr_int("faithfulness") != 0;
  LOUPE_CHECK(!h.methods.empty() && h.shard.count >= 1 && h.shard.index >= 0 && h.shard.index < h.shard.count &&
                  h.total_images >= 1 && h.height >= 1 && h.width >= 1,
              f.path().string(), ": damaged header (methods '", join_names(h.methods, ","), "', shard ", h.shard.str(),
              ", ", h.total_images, " images of ", h.height, "x", h.width, ")");
  return h;
}

void create_rows(h5::File& f, const Header& h) {
  const int64_t chunk = chunk_rows(h);
  f.create_string_rows("id", 256);
  for (const auto& name : h.row_datasets()) {
    if (name.rfind("maps/", 0) == 0) {
      f.create_rows(name, torch::kFloat, {h.height, h.width}, chunk);
    } else if (name == "iou") {
      f.create_rows(name, torch::kDouble, {static_cast<int64_t>(h.iou_pairs().size())}, 1024);
    } else if (name == "position" || name == "predicted" || name == "explained_class" || name == "label") {
      f.create_rows(name, torch::kLong, {}, 1024);
    } else {
      f.create_rows(name, torch::kDouble, {}, 1024);
    }
  }
}

std::string difference(const Header& a, const Header& b) {
  if (a.model != b.model) return "model " + a.model + " vs " + b.model;
  if (a.source != b.source) return "images " + a.source + " vs " + b.source;
  if (a.total_images != b.total_images)
    return "dataset size " + std::to_string(a.total_images) + " vs " + std::to_string(b.total_images);
  if (a.methods != b.methods) return "methods " + join_names(a.methods, ",") + " vs " + join_names(b.methods, ",");
  if (a.target != b.target) return "target " + a.target + " vs " + b.target;
  if (a.height != b.height || a.width != b.width || a.channels != b.channels) return "image size or channels";
  if (a.faithfulness != b.faithfulness) return "faithfulness on in one, off in the other";
  if (a.labels != b.labels) return "labels";
  if (a.settings != b.settings) return "settings " + a.settings + " vs " + b.settings;
  if (a.shard.count != b.shard.count)
    return "shard count " + std::to_string(a.shard.count) + " vs " + std::to_string(b.shard.count);
  return "";
}

Rows Rows::select(const std::vector<int64_t>& rows) const {
  Rows out;
  const auto index = torch::tensor(rows, torch::kLong);
  for (const auto& [name, t] : values) out.values[name] = t.index_select(0, index);
  for (const auto r : rows) out.ids.push_back(ids.at(static_cast<size_t>(r)));
  return out;
}

Rows Rows::cat(const std::vector<Rows>& parts) {
  Rows out;
  if (parts.empty()) return out;
  for (const auto& [name, t] : parts.front().values) {
    std::vector<torch::Tensor> pieces;
    for (const auto& p : parts) pieces.push_back(p.values.at(name));
    out.values[name] = torch::cat(pieces);
  }
  for (const auto& p : parts) out.ids.insert(out.ids.end(), p.ids.begin(), p.ids.end());
  return out;
}

Rows read_rows(const h5::File& f, const Header& h, int64_t first, int64_t count) {
  Rows out;
  for (const auto& name : h.row_datasets()) out.values[name] = f.read(name, first, count);
  out.ids = f.read_strings("id", first, count);
  return out;
}

void append_rows(h5::File& f, const Header& h, const Rows& rows) {
  for (const auto& name : h.row_datasets()) {
    const auto it = rows.values.find(name);
    LOUPE_CHECK(it != rows.values.end(), "results rows: missing '", name, "'");
    f.append(name, it->second);
  }
  f.append_strings("id", rows.ids);
}

int64_t row_count(const h5::File& f, const Header& h) {
  const int64_t n = f.rows("id");
  for (const auto& name : h.row_datasets())
    LOUPE_CHECK(f.rows(name) == n, f.path().string(), ": '", name, "' holds ", f.rows(name), " rows but 'id' ", n,
                " (damaged file)");
  return n;
}

}  // namespace loupe::audit
