#include "loupe/data/factors.h"

#include <torch/torch.h>

#include <cstdio>

#include "loupe/core/error.h"

namespace loupe {
namespace {

int64_t product(const std::vector<int64_t>& v) {
  int64_t p = 1;
  for (int64_t x : v) p *= x;
  return p;
}

}  // namespace

torch::Tensor mixed_radix_decode(const torch::Tensor& indices, const std::vector<int64_t>& radices) {
  const int64_t f = static_cast<int64_t>(radices.size());
  auto rest = indices.to(torch::kLong).reshape({-1});
  auto digits = torch::empty({rest.size(0), f}, rest.options());
  for (int64_t i = f - 1; i >= 0; --i) {
    digits.select(1, i).copy_(rest.remainder(radices[i]));
    rest = rest.div(radices[i], "floor");
  }
  return digits;
}

torch::Tensor mixed_radix_encode(const torch::Tensor& digits, const std::vector<int64_t>& radices) {
  auto index = torch::zeros({digits.size(0)}, digits.options().dtype(torch::kLong));
  for (size_t i = 0; i < radices.size(); ++i)
    index = index.mul(radices[i]).add(digits.select(1, static_cast<int64_t>(i)));
  return index;
}

void check_factors(const torch::Tensor& factors, const std::vector<int64_t>& sizes, const std::string& what) {
  const int64_t f = static_cast<int64_t>(sizes.size());
  LOUPE_CHECK(factors.dim() == 2 && factors.size(1) == f, what, ": expected factor vectors int64 [B,", f, "], got ",
              factors.sizes());
  LOUPE_CHECK(factors.scalar_type() == torch::kLong, what, ": expected int64 factor indices, got ",
              factors.scalar_type());
  if (factors.size(0) == 0) return;
  const auto lo = std::get<0>(factors.min(0)).cpu(), hi = std::get<0>(factors.max(0)).cpu();
  for (int64_t i = 0; i < f; ++i)
    LOUPE_CHECK(lo[i].item<int64_t>() >= 0 && hi[i].item<int64_t>() < sizes[i], what, ": factor ", i,
                " has values in [", lo[i].item<int64_t>(), ",", hi[i].item<int64_t>(), "], expected [0,", sizes[i],
                ")");
}

std::vector<std::string> numeric_value_names(double lo, double hi, int64_t n, int decimals) {
  std::vector<std::string> names;
  for (int64_t i = 0; i < n; ++i) {
    char buf[64];
    const double v = n == 1 ? lo : lo + (hi - lo) * static_cast<double>(i) / static_cast<double>(n - 1);
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    names.emplace_back(buf);
  }
  return names;
}

torch::Tensor FactorDataset::factors(const torch::Tensor& indices) const {
  LOUPE_CHECK(indices.dim() == 1, "sample indices: expected int64 [B], got ", indices.sizes());
  if (indices.numel() > 0) {
    const int64_t lo = indices.min().item<int64_t>(), hi = indices.max().item<int64_t>();
    LOUPE_CHECK(lo >= 0 && hi < size(), "sample indices: found [", lo, ",", hi, "], expected [0,", size(), ")");
  }
  return mixed_radix_decode(indices, factor_sizes());
}

torch::Tensor FactorDataset::index_of(const torch::Tensor& factor_vectors) const {
  const auto sizes = factor_sizes();
  check_factors(factor_vectors, sizes, "factor vectors");
  return mixed_radix_encode(factor_vectors, sizes);
}

int64_t FactorDataset::size() const { return product(factor_sizes()); }

int64_t FactorDataset::factor_index(const std::string& name) const {
  const auto names = factor_names();
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == name) return static_cast<int64_t>(i);
  fail("factor '", name, "': unknown; expected one of ", join_names(names));
}

}  // namespace loupe
