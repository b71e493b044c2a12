#include "loupe/studies/shortcut.h"

#include <torch/torch.h>

#include <chrono>

#include "loupe/core/error.h"
#include "loupe/core/option_checks.h"
#include "loupe/core/progress.h"
#include "loupe/data/mnist.h"
#include "loupe/studies/toolkit.h"

namespace loupe {

void check_shortcut_data_options(const ShortcutDataOptions& o) {
  LOUPE_CHECK(o.bias >= 0.0 && o.bias <= 1.0, "--bias ", o.bias, ": expected a fraction in [0,1]");
  check_count("--test-offset", o.test_offset, 0, 9, "class c's test colour is (c + offset) mod 10");
  LOUPE_CHECK(o.base == "fashion-mnist" || o.base == "mnist", "--base ", o.base, ": expected fashion-mnist or mnist");
  LOUPE_CHECK(o.base != "mnist" || !o.data_dir.empty(),
              "--base mnist: give the folder holding the MNIST IDX files with --data DIR");
}

ShortcutData load_shortcut_data(const ShortcutDataOptions& o) {
  check_shortcut_data_options(o);
  const bool mnist = o.base == "mnist";
  const fs::path dir = o.data_dir.empty() ? fs::path(kFashionMnistDir) : o.data_dir;
  const auto gray_train = mnist ? load_mnist(o.data_dir, "train") : load_fashion_mnist("train", dir);
  const auto gray_test = mnist ? load_mnist(o.data_dir, "test") : load_fashion_mnist("test", dir);
  ColouredOptions copts;
  copts.bias = o.bias;
  copts.test_offset = o.test_offset;
  copts.seed = o.seed;
  auto coloured = make_coloured(gray_train, gray_test, copts);
  auto gray = make_gray_control(gray_train, gray_test, copts);
  TensorDataset lazy_train = coloured.train, control_train = gray.train;
  if (o.train_images > 0 && o.train_images < lazy_train.size())
    lazy_train = lazy_train.subset(torch::arange(o.train_images, torch::kLong));
  if (o.control_train_images > 0 && o.control_train_images < control_train.size())
    control_train = control_train.subset(torch::arange(o.control_train_images, torch::kLong));
  return {gray_train.class_names(), std::move(coloured),      std::move(gray),
          std::move(lazy_train),    std::move(control_train), mnist ? "MNIST" : "FashionMNIST"};
}

ShortcutModel train_shortcut_model(const ShortcutData& d, bool gray, const ShortcutTrainOptions& o,
                                   torch::Device device, const TrainObjectiveOptions& objective) {
  const ModelSpec spec{o.arch, 3, static_cast<int64_t>(d.classes.size())};
  torch::manual_seed(o.seed);
  auto model = make_model(spec);
  model->to(device);
  TrainOptions t;
  t.set_optimizer(o.optimizer).set_lr(o.lr).set_epochs(o.epochs).set_batch_size(o.batch_size).set_seed(o.seed);
  t.set_log_steps(true).set_checkpoint(o.checkpoint).set_resume(o.resume).set_label(o.label);
  const auto& train = gray ? d.control_train : d.lazy_train;
  const auto& val = gray ? d.gray.validation : d.coloured.validation;
  const auto started = std::chrono::steady_clock::now();
  auto run = train_with_objective(*model, spec, train, &val, t, device, objective);
  return {model, std::move(run), seconds_since(started)};
}

std::shared_ptr<TappedModel> load_shortcut_model(const fs::path& path, const std::string& what, torch::Device device,
                                                 const std::string& arch, CheckpointInfo* info) {
  CheckpointInfo header;
  std::shared_ptr<TappedModel> model;
  try {
    model = load_model(path, &header);
  } catch (const Error& e) {
    fail(what, ": ", e.what());
  }
  const auto spec = classifier_spec(header, path);
  LOUPE_CHECK(arch.empty() || spec.arch == arch, what, ": a ", spec.arch, " classifier, but the study compares ", arch,
              " models (give --model ", spec.arch, " to compare that architecture)");
  LOUPE_CHECK(spec.in_channels == 3 && spec.num_classes == 10, what, ": a classifier of ", spec.in_channels,
              " channel(s) and ", spec.num_classes, " classes; expected 3 channels and 10 classes");
  model->to(device);
  model->eval();
  if (info) *info = header;
  return model;
}

// Mean over the off-diagonal cells (a foreign tint).
double mean_off_diagonal(const torch::Tensor& m) {
  const int64_t k = m.size(0);
  return (m.sum().item<double>() - m.diagonal().sum().item<double>()) / static_cast<double>(k * (k - 1));
}

RecolouringProbe recolouring_probe(TappedModel& model, const TensorDataset& gray_test, int64_t per_class,
                                   torch::Device device) {
  const int64_t k = 10;
  std::vector<int64_t> picked, counts(k, 0);
  const auto labels = gray_test.labels();
  for (int64_t i = 0; i < gray_test.size(); ++i) {
    const int64_t c = labels[i].item<int64_t>();
    if (counts[c] < per_class) picked.push_back(i), ++counts[c];
  }
  const auto idx = torch::tensor(picked, torch::kLong);
  const auto gray = gray_test.images_u8().index_select(0, idx).narrow(1, 0, 1);
  const auto true_class = labels.index_select(0, idx);
  RecolouringProbe probe{torch::zeros({k, k}, torch::kDouble), torch::zeros({k, k}, torch::kDouble)};
  for (int64_t b = 0; b < k; ++b) {
    const auto tinted = tint(gray, std::vector<int64_t>(picked.size(), b)).to(torch::kFloat).div_(255.0f);
    const auto pred = study::predict_classes(model, tinted, device, 512);
    for (int64_t a = 0; a < k; ++a) {
      const auto of_a = true_class.eq(a);
      const double n = of_a.sum().item<double>();
      if (n == 0) continue;
      probe.follows[a][b] = (pred.eq(b) & of_a).sum().item<double>() / n;
      probe.keeps[a][b] = (pred.eq(a) & of_a).sum().item<double>() / n;
    }
  }
  return probe;
}

}  // namespace loupe
