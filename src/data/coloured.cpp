#include "loupe/data/coloured.h"

#include <torch/torch.h>

#include <limits>
#include <random>

#include "loupe/core/error.h"

namespace loupe {
namespace {

constexpr int64_t kColours = 10;

// Draws are written out by hand rather than with std::uniform_*_distribution and
// std::shuffle, whose algorithms the standard leaves to each library: the same
// seed must give the same split with libstdc++ and libc++.
class SeededDraws {
 public:
  explicit SeededDraws(uint64_t seed) : rng_(seed) {}
  // Uniform in [0, n), unbiased (rejection of the incomplete top block).
  uint64_t below(uint64_t n) {
    const uint64_t limit = std::numeric_limits<uint64_t>::max() - std::numeric_limits<uint64_t>::max() % n;
    uint64_t r;
    do r = rng_();
    while (r >= limit);
    return r % n;
  }
  // Uniform in [0, 1) with 53 random bits.
  double unit() { return static_cast<double>(rng_() >> 11) * 0x1.0p-53; }

 private:
  std::mt19937_64 rng_;
};

struct Partition {
  std::vector<int64_t> train, validation;  // indices into the base training set
};

// Fisher–Yates shuffle of [0, n); the first n_train go to train. `draws` is left
// positioned after the shuffle so colour draws follow from the same seed.
Partition partition(int64_t n, const ColouredOptions& o, SeededDraws& draws) {
  LOUPE_CHECK(n > 0, "ColouredMNIST: the base training set is empty; expected at least one image");
  LOUPE_CHECK(o.train_size > 0, "ColouredMNIST train_size ", o.train_size, ": expected a positive count");
  // A base set no larger than train_size (a subset, in tests or quick presets) is split
  // 80/20 so that validation is never empty by accident.
  const int64_t n_train = o.train_size < n ? o.train_size : std::max<int64_t>(1, n * 4 / 5);
  std::vector<int64_t> order(n);
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  for (int64_t i = n - 1; i > 0; --i) std::swap(order[i], order[draws.below(static_cast<uint64_t>(i) + 1)]);
  Partition p;
  p.train.assign(order.begin(), order.begin() + n_train);
  p.validation.assign(order.begin() + n_train, order.end());
  return p;
}

void check_base(const TensorDataset& d, const char* which) {
  LOUPE_CHECK(d.image_shape()[0] == 1, "ColouredMNIST ", which, " images: expected 1 channel (gray [N,1,H,W]), found ",
              d.image_shape()[0]);
  if (d.size() > 0) {
    const int64_t hi = d.labels().max().item<int64_t>();
    LOUPE_CHECK(hi < kColours, "ColouredMNIST ", which, " labels: found label ", hi,
                ", expected labels in [0,10) (one palette colour per class)");
  }
}

void check_options(const ColouredOptions& o) {
  LOUPE_CHECK(o.bias >= 0.0 && o.bias <= 1.0, "ColouredMNIST bias ", o.bias, ": expected a probability in [0,1]");
}

std::vector<int64_t> to_vector(const torch::Tensor& labels) {
  const auto l = labels.to(torch::kLong).contiguous();
  return {l.data_ptr<int64_t>(), l.data_ptr<int64_t>() + l.numel()};
}

torch::Tensor index_tensor(const std::vector<int64_t>& v) { return torch::tensor(v, torch::kLong); }

// Class colour with probability bias, else one of the 10 uniformly (possibly the class's own).
std::vector<int64_t> biased_colours(const std::vector<int64_t>& labels, double bias, SeededDraws& draws) {
  std::vector<int64_t> colours(labels.size());
  for (size_t i = 0; i < labels.size(); ++i)
    colours[i] = draws.unit() < bias ? labels[i] : static_cast<int64_t>(draws.below(kColours));
  return colours;
}

TensorDataset coloured_subset(const TensorDataset& gray, const std::vector<int64_t>& indices,
                              const std::vector<int64_t>& colours) {
  const auto idx = index_tensor(indices);
  return TensorDataset(tint(gray.images_u8().index_select(0, idx), colours), gray.labels().index_select(0, idx),
                       gray.class_names());
}

TensorDataset gray3(const TensorDataset& gray, const torch::Tensor& idx) {
  const auto images = idx.defined() ? gray.images_u8().index_select(0, idx) : gray.images_u8();
  const auto labels = idx.defined() ? gray.labels().index_select(0, idx) : gray.labels();
  return TensorDataset(images.expand({-1, 3, -1, -1}).contiguous(), labels, gray.class_names());
}

}  // namespace

const std::vector<std::array<float, 3>>& coloured_palette() {
  static const std::vector<std::array<float, 3>> palette = {
      {1.0f, 0.0f, 0.0f}, {0.0f, 1.0f, 0.0f}, {0.0f, 0.0f, 1.0f}, {1.0f, 1.0f, 0.0f}, {0.0f, 1.0f, 1.0f},
      {1.0f, 0.0f, 1.0f}, {1.0f, 0.5f, 0.0f}, {0.0f, 0.5f, 0.0f}, {0.5f, 0.0f, 1.0f}, {0.0f, 0.5f, 0.5f}};
  return palette;
}

const std::vector<std::string>& coloured_palette_names() {
  static const std::vector<std::string> names = {"red",     "green",  "blue",       "yellow", "cyan",
                                                 "magenta", "orange", "dark green", "purple", "teal"};
  return names;
}

torch::Tensor tint(const torch::Tensor& gray_u8, const std::vector<int64_t>& colour_index) {
  LOUPE_CHECK(gray_u8.dim() == 4 && gray_u8.size(1) == 1 && gray_u8.scalar_type() == torch::kUInt8,
              "tint: expected gray uint8 images [N,1,H,W], found ", gray_u8.scalar_type(), " ", gray_u8.sizes());
  const int64_t n = gray_u8.size(0);
  LOUPE_CHECK(static_cast<int64_t>(colour_index.size()) == n, "tint: ", colour_index.size(), " colour indices for ", n,
              " images; expected one per image");
  for (size_t i = 0; i < colour_index.size(); ++i)
    LOUPE_CHECK(colour_index[i] >= 0 && colour_index[i] < kColours, "tint: colour index ", colour_index[i],
                " at image ", i, ": expected a palette index in [0,10)");

  const auto& pal = coloured_palette();
  auto palette = torch::empty({kColours, 3}, torch::kFloat);
  for (int64_t c = 0; c < kColours; ++c)
    for (int64_t k = 0; k < 3; ++k) palette[c][k] = pal[c][k];
  const auto per_image = palette.index_select(0, index_tensor(colour_index)).view({n, 3, 1, 1});

  auto out = torch::empty({n, 3, gray_u8.size(2), gray_u8.size(3)}, torch::kUInt8);
  // Chunked so a 60k set never holds a full float copy (~0.5 GB) at once.
  constexpr int64_t kChunk = 4096;
  for (int64_t i = 0; i < n; i += kChunk) {
    const int64_t m = std::min(kChunk, n - i);
    const auto g = gray_u8.narrow(0, i, m).to(torch::kFloat);
    // Round half up (floor(x + 0.5)), so 255 * 0.5 → 128 and 201 * 0.5 → 101.
    out.narrow(0, i, m).copy_(g.mul(per_image.narrow(0, i, m)).add_(0.5f).floor_().clamp_(0, 255));
  }
  return out;
}

ColouredSplits make_coloured(const TensorDataset& gray_train, const TensorDataset& gray_test,
                             const ColouredOptions& options) {
  check_options(options);
  check_base(gray_train, "train");
  check_base(gray_test, "test");
  SeededDraws draws(options.seed);
  const Partition p = partition(gray_train.size(), options, draws);
  const auto labels = to_vector(gray_train.labels());
  const auto labels_of = [&](const std::vector<int64_t>& idx) {
    std::vector<int64_t> out(idx.size());
    for (size_t i = 0; i < idx.size(); ++i) out[i] = labels[idx[i]];
    return out;
  };

  auto train_colours = biased_colours(labels_of(p.train), options.bias, draws);
  auto validation_colours = biased_colours(labels_of(p.validation), options.bias, draws);
  std::vector<int64_t> test_colours;
  for (int64_t label : to_vector(gray_test.labels()))
    test_colours.push_back(((label + options.test_offset) % kColours + kColours) % kColours);

  auto train = coloured_subset(gray_train, p.train, train_colours);
  auto validation = coloured_subset(gray_train, p.validation, validation_colours);
  TensorDataset test(tint(gray_test.images_u8(), test_colours), gray_test.labels(), gray_test.class_names());
  return {std::move(train),         std::move(validation),         std::move(test),
          std::move(train_colours), std::move(validation_colours), std::move(test_colours)};
}

GraySplits make_gray_control(const TensorDataset& gray_train, const TensorDataset& gray_test,
                             const ColouredOptions& options) {
  check_options(options);
  check_base(gray_train, "train");
  check_base(gray_test, "test");
  SeededDraws draws(options.seed);
  const Partition p = partition(gray_train.size(), options, draws);
  return {gray3(gray_train, index_tensor(p.train)), gray3(gray_train, index_tensor(p.validation)),
          gray3(gray_test, torch::Tensor())};
}

RecolouredSet recolour_randomly(const TensorDataset& gray, uint64_t seed) {
  const auto images = gray.images_u8();
  LOUPE_CHECK(images.dim() == 4 && (images.size(1) == 1 || images.size(1) == 3),
              "recolour: expected gray images "
              "[N,1,H,W] or [N,3,H,W] with equal channels, got ",
              images.sizes());
  LOUPE_CHECK(images.size(1) == 1 || (torch::equal(images.select(1, 0), images.select(1, 1)) &&
                                      torch::equal(images.select(1, 0), images.select(1, 2))),
              "recolour: the images have colour already; expected a gray dataset (e.g. gray-fashion-mnist)");
  std::mt19937_64 rng(seed + 17);
  std::uniform_int_distribution<int64_t> colour(0, kColours - 1);
  std::vector<int64_t> colours(static_cast<size_t>(images.size(0)));
  for (auto& c : colours) c = colour(rng);
  return {TensorDataset(tint(images.narrow(1, 0, 1).contiguous(), colours), gray.labels(), gray.class_names()),
          colours};
}

}  // namespace loupe
