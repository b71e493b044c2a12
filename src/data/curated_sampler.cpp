#include "loupe/data/curated_sampler.h"

#include <torch/torch.h>

#include <algorithm>
#include <cctype>

#include "loupe/core/device.h"
#include "loupe/core/error.h"

namespace loupe {
namespace {

std::string trimmed(const std::string& s) {
  const auto b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i)
    if (i == s.size() || s[i] == sep) parts.push_back(trimmed(s.substr(start, i - start))), start = i + 1;
  return parts;
}

bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

// A value name of the factor, else a decimal index (names never look like integers).
int64_t parse_value(const std::string& value, int64_t factor, const std::string& factor_name, const FactorDataset& data,
                    const std::string& text) {
  const auto names = data.value_names(factor);
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == value) return static_cast<int64_t>(i);
  LOUPE_CHECK(all_digits(value) && value.size() < 10, "normalcy criterion '", text, "': unknown value '", value,
              "' for factor ", factor_name, "; expected one of ", join_names(names), " or an index in [0,", names.size(),
              ")");
  const int64_t index = std::stoll(value);
  LOUPE_CHECK(index < static_cast<int64_t>(names.size()), "normalcy criterion '", text, "': ", factor_name, " index ",
              index, " is out of range; expected [0,", names.size(), ")");
  return index;
}

// k of the n entries of `pool` (int64 [n]), uniformly without replacement.
torch::Tensor draw(const torch::Tensor& pool, int64_t k, torch::Generator& gen) {
  return pool.index_select(0, torch::randperm(pool.size(0), gen, torch::kLong).slice(0, 0, k));
}

}  // namespace

torch::Tensor NormalcyCriterion::satisfied_by(const torch::Tensor& factors) const {
  auto ok = torch::ones({factors.size(0)}, factors.options().dtype(torch::kBool));
  for (size_t f = 0; f < allowed.size(); ++f) {
    if (allowed[f].empty()) continue;
    auto any = torch::zeros_like(ok);
    const auto column = factors.select(1, static_cast<int64_t>(f));
    for (int64_t v : allowed[f]) any = any.logical_or(column == v);
    ok = ok.logical_and(any);
  }
  return ok;
}

NormalcyCriterion parse_criterion(const std::string& text, const FactorDataset& data) {
  NormalcyCriterion c{text, std::vector<std::vector<int64_t>>(data.num_factors())};
  const auto names = data.factor_names();
  LOUPE_CHECK(!trimmed(text).empty(), "normalcy criterion: empty; expected terms like ", names.front(),
              "=<value>, separated by commas");
  for (const auto& term : split(text, ',')) {
    const auto eq = term.find('=');
    LOUPE_CHECK(eq != std::string::npos && eq > 0 && eq + 1 < term.size(), "normalcy criterion '", text, "': term '",
                term, "' is not factor=value; factors: ", join_names(names));
    const auto factor_name = trimmed(term.substr(0, eq));
    const auto it = std::find(names.begin(), names.end(), factor_name);
    LOUPE_CHECK(it != names.end(), "normalcy criterion '", text, "': unknown factor '", factor_name,
                "'; expected one of ", join_names(names));
    const auto f = static_cast<int64_t>(it - names.begin());
    LOUPE_CHECK(c.allowed[f].empty(), "normalcy criterion '", text, "': factor ", factor_name,
                " is named twice; list alternatives as ", factor_name, "=a|b");
    for (const auto& value : split(term.substr(eq + 1), '|'))
      c.allowed[f].push_back(parse_value(value, f, factor_name, data, text));
  }
  return c;
}

CuratedSample curated_sample(const FactorDataset& data, const NormalcyCriterion& criterion,
                             const CuratedOptions& options) {
  LOUPE_CHECK(options.normals >= 0 && options.outliers >= 0, "curated sample: normals ", options.normals,
              " and outliers ", options.outliers, ": expected counts >= 0");
  LOUPE_CHECK(static_cast<int64_t>(criterion.allowed.size()) == data.num_factors(), "normalcy criterion '",
              criterion.text, "': has ", criterion.allowed.size(), " factors, the dataset ", data.num_factors());
  const auto all = torch::arange(data.size(), torch::kLong);
  const auto normal = criterion.satisfied_by(data.factors(all));
  const auto normal_pool = all.masked_select(normal), outlier_pool = all.masked_select(normal.logical_not());
  LOUPE_CHECK(normal_pool.numel() > 0, "normalcy criterion '", criterion.text, "': no sample satisfies it");
  LOUPE_CHECK(options.normals <= normal_pool.numel(), "curated sample: ", options.normals,
              " normals requested, but only ", normal_pool.numel(), " samples satisfy '", criterion.text, "'");
  LOUPE_CHECK(options.outliers <= outlier_pool.numel(), "curated sample: ", options.outliers,
              " outliers requested, but only ", outlier_pool.numel(), " samples violate '", criterion.text, "'");
  auto gen = make_generator(options.seed);
  auto indices = torch::cat({draw(normal_pool, options.normals, gen), draw(outlier_pool, options.outliers, gen)});
  auto is_outlier =
      torch::cat({torch::zeros({options.normals}, torch::kBool), torch::ones({options.outliers}, torch::kBool)});
  if (options.shuffle) {
    const auto order = torch::randperm(indices.size(0), gen, torch::kLong);
    indices = indices.index_select(0, order), is_outlier = is_outlier.index_select(0, order);
  }
  return {indices, is_outlier, data.factors(indices)};
}

}  // namespace loupe
