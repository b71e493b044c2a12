// Dataset audits (studies/dataset_audit.h): shards merged equal the whole run, a run
// interrupted between batches resumes to the uninterrupted results, and merge / resume
// refuse what does not belong together.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "data/idx_files.h"
#include "error_matchers.h"
#include "loupe/core/h5.h"
#include "loupe/studies/dataset_audit.h"
#include "test_util.h"

namespace loupe {
namespace {

#ifdef LOUPE_HAVE_HDF5

constexpr int64_t kImages = 23;

struct Fixture {
  test::TempDir dir;
  ModelSpec spec{"small_cnn", 1, 10};
  std::shared_ptr<TappedModel> model;
  fs::path idx;

  Fixture() {
    torch::manual_seed(0);
    model = make_model(spec);
    model->eval();
    idx = dir.path() / "val-images-idx3-ubyte";
    test::write_idx(idx, torch::randint(0, 256, {kImages, 28, 28}, torch::TensorOptions().dtype(torch::kByte)));
    test::write_idx(dir.path() / "val-labels-idx1-ubyte", (torch::arange(kImages) % 10).to(torch::kByte));
  }

  std::unique_ptr<ImageStream> images() const {
    return open_image_stream({idx.string()}, ImageStreamOptions().set_channels(1));
  }

  DatasetAuditOptions options(const std::string& out, std::vector<std::string> methods = {"gradcam", "occlusion"}) {
    DatasetAuditOptions o;
    o.compare.methods = std::move(methods);
    o.compare.explain.perturbation.window = 7;
    o.compare.explain.perturbation.stride = 7;
    o.compare.faithfulness = true;
    o.compare.faithfulness_options.steps = 4;
    o.batch = 5;
    o.out = dir.path() / out;
    o.inputs = {idx.string()};
    o.settings = "{\"window\":7}";
    o.quiet = true;
    fs::create_directories(o.out);
    return o;
  }
};

// Every dataset but the timings equal.
void expect_same_results(const fs::path& a, const fs::path& b) {
  const auto fa = h5::File::open(a), fb = h5::File::open(b);
  ASSERT_EQ(fa.rows("id"), fb.rows("id"));
  EXPECT_EQ(fa.read_strings("id", 0, fa.rows("id")), fb.read_strings("id", 0, fb.rows("id")));
  std::vector<std::string> names = {"position", "predicted", "explained_class", "probability", "label", "iou"};
  for (const auto& group : {"maps", "deletion_auc", "insertion_auc", "evaluations"})
    for (const auto& m : fa.children(group)) names.push_back(std::string(group) + "/" + m);
  for (const auto& name : names) {
    ASSERT_TRUE(fb.has(name)) << name;
    const auto x = fa.read_all(name), y = fb.read_all(name);
    ASSERT_EQ(x.sizes(), y.sizes()) << name;
    // Batches of other sizes may pick other convolution kernels: float rounding only.
    if (x.is_floating_point())
      EXPECT_TRUE(torch::allclose(x, y, 1e-5, 1e-6)) << name << " differs by " << (x - y).abs().max().item<double>();
    else
      EXPECT_TRUE(torch::equal(x, y)) << name;
  }
}

TEST(DatasetAudit, FourShardsMergedEqualTheWholeRun) {
  Fixture fx;
  auto images = fx.images();
  const auto whole = audit_dataset(*fx.model, fx.spec, *images, fx.options("whole"));
  EXPECT_EQ(whole.images, kImages);
  EXPECT_EQ(whole.explained, kImages);
  EXPECT_FALSE(fs::exists(fx.dir.path() / "whole" / "partial"));
  std::vector<fs::path> shards;
  for (int64_t k = 0; k < 4; ++k) {
    auto o = fx.options("shard" + std::to_string(k));
    o.shard = {k, 4};
    o.batch = 2;
    const auto r = audit_dataset(*fx.model, fx.spec, *images, o);
    EXPECT_EQ(r.images, (kImages - k + 3) / 4);
    shards.push_back(o.out);
  }
  fs::create_directories(fx.dir.path() / "merged");
  // Shards in any order.
  EXPECT_EQ(merge_audit_results({shards[2], shards[0], shards[3], shards[1]}, fx.dir.path() / "merged"), kImages);
  expect_same_results(whole.results, fx.dir.path() / "merged" / kResultsFile);
  const auto merged = h5::File::open(fx.dir.path() / "merged" / kResultsFile);
  EXPECT_TRUE(torch::equal(merged.read_all("position"), torch::arange(kImages)));
  EXPECT_EQ(merged.attr_int("shard_count"), 1);

  // The report: aggregates computed from the file.
  const auto report = audit_report(fx.dir.path() / "merged" / kResultsFile, images.get());
  report.write(fx.dir.path() / "merged");
  const auto metrics = test::read_metrics(fx.dir.path() / "merged");
  EXPECT_EQ(metrics["images"], kImages);
  EXPECT_NEAR(metrics["iou"]["gradcam/occlusion"]["mean"].get<double>(), merged.read_all("iou").mean().item<double>(),
              1e-12);
  const double accuracy =
      merged.read_all("predicted").eq(torch::arange(kImages) % 10).to(torch::kDouble).mean().item<double>();
  EXPECT_NEAR(metrics["accuracy"].get<double>(), accuracy, 1e-12);
  EXPECT_NEAR(metrics["methods"]["occlusion"]["insertion_auc"].get<double>(),
              merged.read_all("insertion_auc/occlusion").mean().item<double>(), 1e-12);
  EXPECT_TRUE(fs::exists(fx.dir.path() / "merged" / "report.html"));
}

// Reads fail after `good` batches: a run killed between batches.
class FailingStream : public ImageStream {
 public:
  FailingStream(std::unique_ptr<ImageStream> inner, int good) : inner_(std::move(inner)), good_(good) {}
  int64_t size() const override { return inner_->size(); }
  std::string id(int64_t i) const override { return inner_->id(i); }
  torch::Tensor read(const std::vector<int64_t>& p) override {
    if (reads_++ == good_) throw std::runtime_error("killed");
    return inner_->read(p);
  }
  bool has_labels() const override { return inner_->has_labels(); }
  torch::Tensor labels(const std::vector<int64_t>& p) override { return inner_->labels(p); }
  std::string describe() const override { return inner_->describe(); }
  std::optional<std::pair<int64_t, int64_t>> image_size() const override { return inner_->image_size(); }

 private:
  std::unique_ptr<ImageStream> inner_;
  int good_, reads_ = 0;
};

TEST(DatasetAudit, AnInterruptedRunResumesToTheUninterruptedResults) {
  Fixture fx;
  auto images = fx.images();
  const auto whole = audit_dataset(*fx.model, fx.spec, *images, fx.options("whole"));
  auto o = fx.options("run");
  FailingStream failing(fx.images(), 2);
  EXPECT_THROW(audit_dataset(*fx.model, fx.spec, failing, o), std::runtime_error);
  EXPECT_FALSE(fs::exists(o.out / kResultsFile));
  EXPECT_EQ(std::distance(fs::directory_iterator(o.out / "partial"), fs::directory_iterator()), 2);
  // A leftover temporary file of the batch in flight is ignored and removed.
  std::ofstream(o.out / "partial" / "part-000000010.h5.tmp") << "half";
  o.resume = true;
  o.batch = 4;  // another batch size is fine
  const auto resumed = audit_dataset(*fx.model, fx.spec, *images, o);
  EXPECT_EQ(resumed.explained, kImages - 10);
  expect_same_results(whole.results, resumed.results);
  EXPECT_FALSE(fs::exists(o.out / "partial"));
  // Resuming a finished run explains nothing.
  EXPECT_EQ(audit_dataset(*fx.model, fx.spec, *images, o).explained, 0);
}

TEST(DatasetAudit, ResumeRefusesAnotherAuditsBatches) {
  Fixture fx;
  auto o = fx.options("run");
  FailingStream failing(fx.images(), 1);
  EXPECT_THROW(audit_dataset(*fx.model, fx.spec, failing, o), std::runtime_error);
  auto other = fx.options("run", {"gradcam", "saliency"});
  other.resume = true;
  auto images = fx.images();
  EXPECT_LOUPE_ERROR(audit_dataset(*fx.model, fx.spec, *images, other),
                     "methods gradcam,occlusion vs gradcam,saliency");
  auto settings = fx.options("run");
  settings.resume = true;
  settings.settings = "{\"window\":4}";
  EXPECT_LOUPE_ERROR(audit_dataset(*fx.model, fx.spec, *images, settings), "settings");
  // Without --resume, the earlier batches are dropped.
  auto fresh = fx.options("run", {"gradcam"});
  EXPECT_EQ(audit_dataset(*fx.model, fx.spec, *images, fresh).explained, kImages);
}

TEST(DatasetAudit, MergeRefusesGapsOverlapsAndStrangers) {
  Fixture fx;
  auto images = fx.images();
  std::vector<fs::path> shards;
  for (int64_t k = 0; k < 3; ++k) {
    auto o = fx.options("s" + std::to_string(k), {"gradcam"});
    o.compare.faithfulness = false;
    o.shard = {k, 3};
    audit_dataset(*fx.model, fx.spec, *images, o);
    shards.push_back(o.out);
  }
  auto stranger = fx.options("t", {"saliency"});
  stranger.compare.faithfulness = false;
  stranger.shard = {2, 3};
  audit_dataset(*fx.model, fx.spec, *images, stranger);
  const auto out = fx.dir.path() / "merged";
  fs::create_directories(out);
  EXPECT_LOUPE_ERROR(merge_audit_results({shards[0], shards[2]}, out), "shard(s) 1/3 missing");
  EXPECT_LOUPE_ERROR(merge_audit_results({shards[0], shards[1], shards[1], shards[2]}, out), "given twice");
  EXPECT_LOUPE_ERROR(merge_audit_results({shards[0], shards[1], stranger.out}, out), "methods gradcam vs saliency");
  fs::create_directories(fx.dir.path() / "empty");
  EXPECT_LOUPE_ERROR(merge_audit_results({shards[0], fx.dir.path() / "empty"}, out), "has not finished");
  EXPECT_FALSE(fs::exists(out / kResultsFile));
  EXPECT_EQ(merge_audit_results(shards, out), kImages);
}

#endif

}  // namespace
}  // namespace loupe
