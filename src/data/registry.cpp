#include "loupe/data/registry.h"

#include <torch/torch.h>

#include <functional>
#include <map>
#include <sstream>

#include "loupe/core/error.h"
#include "loupe/data/coloured.h"
#include "loupe/data/dsprites.h"
#include "loupe/data/image_folder.h"
#include "loupe/data/mnist.h"
#include "loupe/data/shapes3d.h"

namespace loupe {
namespace {

std::pair<TensorDataset, TensorDataset> base_pair(const std::string& base, const DataRequest& r) {
  if (base == "mnist") {
    LOUPE_CHECK(!r.dir.empty(), "--data ", r.name, ": give the folder holding the MNIST IDX files with --data-dir DIR");
    return {load_mnist(r.dir, "train"), load_mnist(r.dir, "test")};
  }
  const fs::path dir = r.dir.empty() ? fs::path(kFashionMnistDir) : r.dir;
  return {load_fashion_mnist("train", dir), load_fashion_mnist("test", dir)};
}

// 48k/12k train/validation split of the 60k training images, as the coloured variant.
DataSplits plain(const std::string& base, const DataRequest& r) {
  auto [train, test] = base_pair(base, r);
  ColouredOptions o;
  o.seed = r.seed;
  auto g = make_gray_control(train, test, o);
  // The plain variant keeps one channel: the first of the replicated gray channels.
  auto one = [](const TensorDataset& d) {
    return std::make_shared<TensorDataset>(d.images_u8().narrow(1, 0, 1).contiguous(), d.labels(), d.class_names());
  };
  return {one(g.train), one(g.validation), one(g.test)};
}

DataSplits coloured(const std::string& base, const DataRequest& r) {
  auto [train, test] = base_pair(base, r);
  ColouredOptions o;
  o.seed = r.seed;
  o.bias = r.bias;
  o.test_offset = r.test_offset;
  auto c = make_coloured(train, test, o);
  return {std::make_shared<TensorDataset>(c.train), std::make_shared<TensorDataset>(c.validation),
          std::make_shared<TensorDataset>(c.test)};
}

DataSplits gray(const std::string& base, const DataRequest& r) {
  auto [train, test] = base_pair(base, r);
  ColouredOptions o;
  o.seed = r.seed;
  auto g = make_gray_control(train, test, o);
  return {std::make_shared<TensorDataset>(g.train), std::make_shared<TensorDataset>(g.validation),
          std::make_shared<TensorDataset>(g.test)};
}

DataSplits folder(const DataRequest& r) {
  LOUPE_CHECK(!r.dir.empty(), "--data folder: give the image folder root (root/<class>/*.png) with --data-dir DIR");
  const auto all = load_image_folder(r.dir);
  auto gen = at::detail::createCPUGenerator(r.seed);
  const auto perm = torch::randperm(all.size(), gen, torch::kLong);
  const int64_t n = all.size(), n_train = n * 8 / 10, n_val = n / 10;
  LOUPE_CHECK(n >= 10, r.dir.string(), ": found ", n,
              " images; need at least 10 to split 80/10/10 into train/validation/test");
  return {std::make_shared<TensorDataset>(all.subset(perm.slice(0, 0, n_train))),
          std::make_shared<TensorDataset>(all.subset(perm.slice(0, n_train, n_train + n_val))),
          std::make_shared<TensorDataset>(all.subset(perm.slice(0, n_train + n_val, n)))};
}

// Distinct samples of a procedural dataset, drawn with the seed: train, then a tenth as
// many each for validation and test, rendered once into memory.
DataSplits generated(std::shared_ptr<const FactorDataset> source, const DataRequest& r, int64_t default_train) {
  const FactorDataset& data = *source;
  const int64_t n_train = r.images > 0 ? r.images : default_train, n_other = std::max<int64_t>(1, n_train / 10);
  LOUPE_CHECK(r.images >= 0 && n_train + 2 * n_other <= data.size(), "--data ", r.name, " with ", r.images,
              " training images: expected 0 (the default) or a count of at most ", data.size() * 10 / 12);
  auto gen = at::detail::createCPUGenerator(r.seed);
  const auto perm = torch::randperm(data.size(), gen, torch::kLong);
  auto split = [&](int64_t from, int64_t n) {
    return std::make_shared<TensorDataset>(to_tensor_dataset(data, perm.slice(0, from, from + n)));
  };
  return {split(0, n_train),
          split(n_train, n_other),
          split(n_train + n_other, n_other),
          source,
          perm.slice(0, 0, n_train),
          perm.slice(0, n_train, n_train + n_other),
          perm.slice(0, n_train + n_other, n_train + 2 * n_other)};
}

const std::map<std::string, std::function<DataSplits(const DataRequest&)>>& dataset_registry() {
  static const std::map<std::string, std::function<DataSplits(const DataRequest&)>> loaders = {
      {"fashion-mnist", [](const DataRequest& r) { return plain("fashion-mnist", r); }},
      {"mnist", [](const DataRequest& r) { return plain("mnist", r); }},
      {"coloured-fashion-mnist", [](const DataRequest& r) { return coloured("fashion-mnist", r); }},
      {"coloured-mnist", [](const DataRequest& r) { return coloured("mnist", r); }},
      {"gray-fashion-mnist", [](const DataRequest& r) { return gray("fashion-mnist", r); }},
      {"gray-mnist", [](const DataRequest& r) { return gray("mnist", r); }},
      {"folder", folder},
      {"shapes3d",
       [](const DataRequest& r) {
         return generated(std::make_shared<Shapes3D>(Shapes3DOptions().set_supersample(1)), r, 8000);
       }},
      {"dsprites", [](const DataRequest& r) { return generated(std::make_shared<DSprites>(), r, 20000); }},
  };
  return loaders;
}

}  // namespace

std::vector<std::string> dataset_names() {
  std::vector<std::string> names;
  for (const auto& [name, loader] : dataset_registry()) names.push_back(name);
  return names;
}

DataSplits load_dataset(const DataRequest& request) {
  auto it = dataset_registry().find(request.name);
  if (it == dataset_registry().end()) {
    std::ostringstream valid;
    for (const auto& n : dataset_names()) valid << (valid.tellp() ? ", " : "") << n;
    fail("--data ", request.name, ": unknown dataset; valid names: ", valid.str());
  }
  return it->second(request);
}

}  // namespace loupe
