#include "loupe/studies/dataset_audit.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <optional>
#include <set>

#include "audit_results.h"
#include "loupe/core/error.h"
#include "loupe/core/output_dir.h"
#include "loupe/core/progress.h"
#include "loupe/explain/target.h"

namespace loupe {
namespace {

constexpr const char* kPartial = "partial";

std::string part_name(int64_t first) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "part-%09lld.h5", static_cast<long long>(first));
  return buf;
}

// A finished batch file: the rows [first, first + count) of the shard's positions.
struct Part {
  fs::path path;
  int64_t first = 0, count = 0;
};

audit::Header header_of(const ModelSpec& spec, const ImageStream& images, const DatasetAuditOptions& o) {
  audit::Header h;
  h.model = o.model_name.empty() ? spec.arch : o.model_name;
  h.source = images.describe();
  report::json inputs = o.inputs;
  h.inputs = inputs.dump();
  h.target = o.target;
  h.settings = o.settings;
  h.methods = o.compare.methods;
  h.shard = o.shard;
  h.total_images = images.size();
  const auto size = images.image_size();
  LOUPE_CHECK(size.has_value(), "images: their size is unknown; pass --size N");
  h.height = size->first;
  h.width = size->second;
  h.channels = spec.in_channels;
  h.num_classes = spec.num_classes;
  h.labels = images.has_labels();
  h.faithfulness = o.compare.faithfulness;
  return h;
}

// True when a batch file holds the shard's rows [first, first + count) and nothing else.
bool holds_shard_rows(const h5::File& f, const Part& p, const std::vector<int64_t>& positions) {
  const auto m = static_cast<int64_t>(positions.size());
  if (p.first < 0 || p.count < 1 || p.first + p.count > m) return false;
  const auto expected = torch::tensor(
      std::vector<int64_t>(positions.begin() + p.first, positions.begin() + p.first + p.count), torch::kLong);
  return torch::equal(f.read_all("position"), expected);
}

// The finished batch files an earlier run left: each checked against this audit and
// against the shard's positions. A file that does not open (cut short by a kill in
// the middle of a rename-less write cannot happen, but a disk can fail) is redone.
std::vector<Part> finished_parts(const fs::path& dir, const audit::Header& h, const std::vector<int64_t>& positions) {
  std::vector<Part> parts;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return parts;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir, ec)) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const auto& path : files) {
    if (path.extension() != ".h5") {
      fs::remove(path, ec);  // a temporary file of the batch in flight
      continue;
    }
    Part p{path};
    std::optional<h5::File> f;
    audit::Header other;
    try {
      f.emplace(h5::File::open(path));
      other = audit::read_header(*f);
      p.first = f->attr_int("part_first");
      p.count = audit::row_count(*f, other);
    } catch (const Error&) {
      fs::remove(path, ec);  // unreadable: explained again
      continue;
    }
    const auto diff = audit::difference(other, h);
    LOUPE_CHECK(diff.empty() && other.shard.index == h.shard.index, "--resume: ", path.string(),
                " belongs to another audit (that file vs this run: ",
                diff.empty() ? "shard " + other.shard.str() + " vs " + h.shard.str() : diff,
                "); use another --out, or run without --resume to start over");
    if (!holds_shard_rows(*f, p, positions)) {
      fs::remove(path, ec);  // not the rows its name says: explained again
      continue;
    }
    parts.push_back(p);
  }
  return parts;
}

// Runs of shard rows not held by any part, cut into batches.
std::vector<std::pair<int64_t, int64_t>> missing_batches(const std::vector<Part>& parts, int64_t m, int64_t batch) {
  std::vector<char> done(static_cast<size_t>(m), 0);
  for (const auto& p : parts) {
    for (int64_t i = p.first; i < p.first + p.count; ++i) {
      LOUPE_CHECK(!done[static_cast<size_t>(i)], p.path.string(), ": overlaps another batch file at row ", i);
      done[static_cast<size_t>(i)] = 1;
    }
  }
  std::vector<std::pair<int64_t, int64_t>> out;
  for (int64_t i = 0; i < m;) {
    if (done[static_cast<size_t>(i)]) {
      ++i;
      continue;
    }
    int64_t end = i;
    while (end < m && end - i < batch && !done[static_cast<size_t>(end)]) ++end;
    out.emplace_back(i, end);
    i = end;
  }
  return out;
}

// One batch explained: predictions, every method's maps, time and agreement.
audit::Rows explain_batch(TappedModel& model, ImageStream& stream, const std::vector<int64_t>& positions,
                          const DatasetAuditOptions& o, const audit::Header& h) {
  const auto images = stream.read(positions);
  LOUPE_CHECK(images.size(2) == h.height && images.size(3) == h.width, "images: ", stream.id(positions.front()), " is ",
              images.size(2), "x", images.size(3), ", the dataset's images ", h.height, "x", h.width,
              "; pass --size N to resize all images");
  torch::Tensor logits;
  {
    torch::NoGradGuard no_grad;
    const bool was_training = model.is_training();
    model.eval();
    logits = model.forward(images.to(model_device(model))).to(torch::kCPU, torch::kDouble);
    model.train(was_training);
  }
  const auto predicted = logits.argmax(1);
  const auto classes = target_classes(o.target, predicted, h.num_classes);
  auto compare = o.compare;
  compare.progress = false;
  const auto c = compare_methods(model, images, classes, compare);

  audit::Rows rows;
  const auto n = static_cast<int64_t>(positions.size());
  rows.values["position"] = torch::tensor(positions, torch::kLong);
  rows.values["predicted"] = predicted;
  rows.values["explained_class"] = classes;
  rows.values["probability"] = torch::softmax(logits, 1).gather(1, classes.view({n, 1})).view({n});
  if (h.labels) rows.values["label"] = stream.labels(positions);
  for (const auto& run : c.runs) {
    rows.values["maps/" + run.method] = run.attribution.maps.to(torch::kFloat);
    rows.values["seconds/" + run.method] = torch::full({n}, run.seconds / static_cast<double>(n), torch::kDouble);
    rows.values["evaluations/" + run.method] = torch::full(
        {n}, static_cast<double>(run.attribution.model_evaluations) / static_cast<double>(n), torch::kDouble);
    if (h.faithfulness) {
      rows.values["deletion_auc/" + run.method] = run.deletion_auc.to(torch::kDouble);
      rows.values["insertion_auc/" + run.method] = run.insertion_auc.to(torch::kDouble);
    }
  }
  const auto m = static_cast<int64_t>(c.runs.size());
  if (m >= 2) {
    std::vector<torch::Tensor> pairs;
    for (int64_t a = 0; a < m; ++a)
      for (int64_t b = a + 1; b < m; ++b) pairs.push_back(c.iou.select(1, a).select(1, b));
    rows.values["iou"] = torch::stack(pairs, 1);
  }
  for (const auto p : positions) rows.ids.push_back(stream.id(p));
  return rows;
}

// Writes a file whole under a temporary name, then renames it: a kill leaves either
// the old state or the new file, never a part of it.
template <class Fill>
void write_h5_atomically(const fs::path& path, const audit::Header& h, Fill fill) {
  check_output_path(path);
  fs::path tmp = path;
  tmp += ".tmp";
  try {
    auto f = h5::File::create(tmp);
    audit::write_header(f, h);
    audit::create_rows(f, h);
    fill(f);
    f.close();
  } catch (...) {
    std::error_code ec;
    fs::remove(tmp, ec);
    throw;
  }
  fs::rename(tmp, path);
}

}  // namespace

DatasetAuditResult audit_dataset(TappedModel& model, const ModelSpec& spec, ImageStream& images,
                                 const DatasetAuditOptions& o) {
  LOUPE_CHECK(o.batch >= 1, "--batch ", o.batch, ": expected at least 1");
  const auto start = std::chrono::steady_clock::now();
  const auto h = header_of(spec, images, o);
  const auto positions = shard_positions(o.shard, images.size());
  const auto m = static_cast<int64_t>(positions.size());
  LOUPE_CHECK(m > 0, "shard ", o.shard.str(), " takes none of the ", images.size(),
              " image(s): use at most as many shards as images");
  DatasetAuditResult result;
  result.images = m;
  result.results = o.out / kResultsFile;
  const auto partial = o.out / kPartial;
  std::error_code ec;
  if (!o.resume) {
    fs::remove_all(partial, ec);
    fs::remove(result.results, ec);
  } else if (fs::exists(result.results, ec)) {
    // A finished run: nothing to explain if it is this audit.
    const auto f = h5::File::open(result.results);
    const auto diff = audit::difference(audit::read_header(f), h);
    LOUPE_CHECK(diff.empty(), "--resume: ", result.results.string(),
                " holds another audit (that file vs this run: ", diff, "); use another --out");
    LOUPE_CHECK(audit::row_count(f, h) == m, result.results.string(), ": holds ", audit::row_count(f, h),
                " images, the shard has ", m, " (damaged file); run without --resume");
    result.seconds = seconds_since(start);
    return result;
  }
  auto parts = o.resume ? finished_parts(partial, h, positions) : std::vector<Part>{};
  const auto todo = missing_batches(parts, m, o.batch);
  fs::create_directories(partial);

  int64_t remaining = 0;
  for (const auto& [a, b] : todo) remaining += b - a;
  std::unique_ptr<Progress> bar;
  if (!o.quiet) bar = std::make_unique<Progress>("explain", remaining, "img");
  try {
    for (const auto& [a, b] : todo) {
      const std::vector<int64_t> batch(positions.begin() + a, positions.begin() + b);
      const auto rows = explain_batch(model, images, batch, o, h);
      const auto path = partial / part_name(a);
      write_h5_atomically(path, h, [&](h5::File& f) {
        f.set_attr("part_first", a);
        audit::append_rows(f, h, rows);
      });
      parts.push_back({path, a, b - a});
      result.explained += b - a;
      if (bar) bar->advance(b - a);
    }
  } catch (const Error& e) {
    // Nothing finished: nothing left behind. Else the finished batches stay for --resume.
    if (parts.empty()) {
      fs::remove_all(partial, ec);
      throw;
    }
    fail(e.what(), " (the ", parts.size(), " batch(es) finished before are kept in ", partial.string(),
         ": once the cause is mended, --resume continues from them)");
  }
  if (bar) bar->finish();

  // Consolidation: the batch files in order, into results.h5.
  std::sort(parts.begin(), parts.end(), [](const Part& x, const Part& y) { return x.first < y.first; });
  int64_t next = 0;
  for (const auto& p : parts) {
    LOUPE_CHECK(p.first == next, "internal: batch files do not tile the shard at row ", next);
    next += p.count;
  }
  LOUPE_CHECK(next == m, "internal: batch files hold ", next, " of ", m, " rows");
  write_h5_atomically(result.results, h, [&](h5::File& out) {
    for (const auto& p : parts) {
      const auto f = h5::File::open(p.path);
      audit::append_rows(out, h, audit::read_rows(f, h, 0, p.count));
    }
  });
  fs::remove_all(partial, ec);
  result.seconds = seconds_since(start);
  return result;
}

int64_t merge_audit_results(const std::vector<fs::path>& shard_dirs, const fs::path& out) {
  LOUPE_CHECK(!shard_dirs.empty(), "merge: expected the shards' output folders");
  std::vector<h5::File> files;
  std::vector<audit::Header> headers;
  std::map<int64_t, fs::path> by_index;
  for (const auto& dir : shard_dirs) {
    const auto path = dir / kResultsFile;
    std::error_code ec;
    LOUPE_CHECK(fs::is_regular_file(path, ec), dir.string(), ": no ", kResultsFile,
                " (the shard has not finished; run it again with --resume)");
    files.push_back(h5::File::open(path));
    headers.push_back(audit::read_header(files.back()));
    const auto& h = headers.back();
    const auto diff = audit::difference(headers.front(), h);
    LOUPE_CHECK(diff.empty(), dir.string(), ": another audit than ", shard_dirs.front().string(), " (",
                shard_dirs.front().string(), " vs ", dir.string(), ": ", diff, ")");
    const auto [it, fresh] = by_index.emplace(h.shard.index, dir);
    LOUPE_CHECK(fresh, "shard ", h.shard.str(), " is given twice: ", it->second.string(), " and ", dir.string(),
                " (they overlap)");
    const auto expected = shard_positions(h.shard, h.total_images);
    const auto rows = audit::row_count(files.back(), h);
    LOUPE_CHECK(rows == static_cast<int64_t>(expected.size()), dir.string(), ": shard ", h.shard.str(), " holds ", rows,
                " images, expected ", expected.size(), " (incomplete or damaged)");
    LOUPE_CHECK(torch::equal(files.back().read_all("position"), torch::tensor(expected, torch::kLong)), dir.string(),
                ": shard ", h.shard.str(), " holds other images than positions i mod ", h.shard.count, " = ",
                h.shard.index);
  }
  const auto& first = headers.front();
  std::vector<std::string> missing;
  for (int64_t k = 0; k < first.shard.count; ++k)
    if (!by_index.count(k)) missing.push_back(std::to_string(k) + "/" + std::to_string(first.shard.count));
  if (!missing.empty()) {
    std::string list;
    for (const auto& s : missing) list += (list.empty() ? "" : ", ") + s;
    fail("merge: shard(s) ", list, " missing; the ", shard_dirs.size(), " folder(s) given do not cover the ",
         first.total_images, " images");
  }

  // Dataset order: position p is row p / N of shard p mod N. Blocks of rows from every
  // shard in step keep memory bounded.
  auto merged = first;
  merged.shard = Shard{};
  // About 64 MiB of maps per block across the shards.
  const int64_t n = first.shard.count;
  const int64_t row_bytes = static_cast<int64_t>(first.methods.size()) * first.height * first.width * 4 + 64;
  const int64_t block = std::clamp<int64_t>((int64_t{64} << 20) / (n * row_bytes), 1, 4096);
  std::vector<size_t> file_of(static_cast<size_t>(n));
  std::vector<int64_t> rows_of(static_cast<size_t>(n));  // shard k's images
  for (size_t i = 0; i < headers.size(); ++i) {
    file_of[static_cast<size_t>(headers[i].shard.index)] = i;
    rows_of[static_cast<size_t>(headers[i].shard.index)] = audit::row_count(files[i], headers[i]);
  }
  const auto path = out / kResultsFile;
  write_h5_atomically(path, merged, [&](h5::File& dst) {
    for (int64_t row = 0; row * n < first.total_images; row += block) {
      std::vector<audit::Rows> pieces;
      for (int64_t k = 0; k < n; ++k) {
        const auto& f = files[file_of[static_cast<size_t>(k)]];
        const int64_t have = rows_of[static_cast<size_t>(k)];
        const int64_t count = std::max<int64_t>(0, std::min(block, have - row));
        if (count > 0) pieces.push_back(audit::read_rows(f, first, row, count));
      }
      const auto all = audit::Rows::cat(pieces);
      const auto order = all.values.at("position").argsort();
      std::vector<int64_t> idx(order.data_ptr<int64_t>(), order.data_ptr<int64_t>() + order.numel());
      audit::append_rows(dst, merged, all.select(idx));
    }
  });
  return first.total_images;
}

}  // namespace loupe
