#include "loupe/probe/dissect.h"

#include <torch/torch.h>

#include <cmath>

#include "loupe/core/error.h"
#include "loupe/core/progress.h"
#include "loupe/data/coloured.h"
#include "loupe/data/shapes3d.h"
#include "loupe/probe/top_activations.h"
#include "loupe/probe/units.h"

namespace loupe {

void IouAccumulator::add(const torch::Tensor& active, const torch::Tensor& concepts) {
  LOUPE_CHECK(active.dim() == 3 && concepts.dim() == 3 && active.size(0) == concepts.size(0) &&
                  active.size(2) == concepts.size(2),
              "IoU: expected unit masks [B,U,P] and concept masks [B,M,P], got ", active.sizes(), " and ",
              concepts.sizes());
  const auto a = active.to(torch::kDouble), c = concepts.to(a.device(), torch::kDouble);
  const auto inter = torch::einsum("bup,bmp->um", {a, c});
  const auto a_count = a.sum(std::vector<int64_t>{0, 2}), c_count = c.sum(std::vector<int64_t>{0, 2});
  if (!intersection_.defined()) {
    intersection_ = inter;
    active_count_ = a_count;
    concept_count_ = c_count;
  } else {
    intersection_ += inter;
    active_count_ += a_count;
    concept_count_ += c_count;
  }
}

torch::Tensor IouAccumulator::iou() const {
  LOUPE_CHECK(intersection_.defined(), "IoU: nothing added");
  const auto uni = active_count_.unsqueeze(1) + concept_count_.unsqueeze(0) - intersection_;
  return torch::where(uni > 0, intersection_ / uni.clamp_min(1), torch::zeros_like(uni)).cpu();
}

Dissection dissect(TappedModel& model, const Dataset& data, const std::string& tap, const std::vector<int64_t>& units,
                   const ConceptSet& concepts, const DissectOptions& o, torch::Device device) {
  LOUPE_CHECK(o.quantile > 0 && o.quantile < 1, "dissection quantile ", o.quantile, ": expected a fraction in (0,1)");
  LOUPE_CHECK(o.batch_size >= 1, "dissection batch size ", o.batch_size, ": expected at least 1");
  LOUPE_CHECK(data.size() >= 1, "dissection: the dataset is empty");
  LOUPE_CHECK(concepts.masks && !concepts.names.empty() && concepts.names.size() == concepts.kinds.size(),
              "dissection: expected concepts with names, kinds and masks");
  const auto shape = data.image_shape();
  const auto unit_index = resolve_units(units, unit_count(model, tap, {shape[0], shape[1], shape[2]}), tap);
  const int64_t u = unit_index.size(0);
  torch::NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  const auto maps_of = [&](const torch::Tensor& images) {
    const auto maps = unit_activations(model, images.to(device), tap, unit_index);
    LOUPE_CHECK(maps.size(2) > 1 || maps.size(3) > 1, "dissection: tap '", tap,
                "' has no spatial map (a vector); expected a feature map [N,C,h,w]");
    return maps.to(torch::kFloat);
  };
  // Pass 1: T_u, the smallest of the unit's top ceil(q·N·h·w) activations.
  StreamingTopK top(u, 1);
  int64_t positions = 0;
  {
    const auto first = maps_of(data.get(torch::zeros({1}, torch::kLong)).images);
    positions = data.size() * first.size(2) * first.size(3);
    top = StreamingTopK(u, std::max<int64_t>(1, static_cast<int64_t>(std::ceil(o.quantile * positions))));
  }
  Progress progress("dissect", 2 * data.size(), "img");
  int64_t seen = 0;
  for (int64_t start = 0; start < data.size(); start += o.batch_size) {
    const int64_t n = std::min(o.batch_size, data.size() - start);
    const auto maps = maps_of(data.get(torch::arange(start, start + n, torch::kLong)).images);
    const auto flat = maps.transpose(0, 1).flatten(1);  // [U, n·h·w]
    top.add(flat.cpu(), torch::arange(seen, seen + flat.size(1), torch::kLong));
    seen += flat.size(1);
    progress.advance(n);
  }
  const auto thresholds = top.scores().select(1, top.scores().size(1) - 1).contiguous();  // [U]
  // Pass 2: IoU of the upsampled, thresholded maps with every concept.
  IouAccumulator acc;
  for (int64_t start = 0; start < data.size(); start += o.batch_size) {
    const int64_t n = std::min(o.batch_size, data.size() - start);
    const auto ids = torch::arange(start, start + n, torch::kLong);
    const auto images = data.get(ids).images;
    const auto maps = maps_of(images);
    const auto up = torch::upsample_bilinear2d(maps, {shape[1], shape[2]}, /*align_corners=*/false);
    const auto active = up.gt(thresholds.to(up.device()).view({1, u, 1, 1})).flatten(2);
    const auto masks = concepts.masks(images, ids);
    LOUPE_CHECK(masks.dim() == 4 && masks.size(0) == n &&
                    masks.size(1) == static_cast<int64_t>(concepts.names.size()) && masks.size(2) == shape[1] &&
                    masks.size(3) == shape[2],
                "dissection: concept masks of shape ", masks.sizes(), "; expected [", n, ",", concepts.names.size(),
                ",", shape[1], ",", shape[2], "]");
    acc.add(active, masks.flatten(2).to(active.device()));
    progress.advance(n);
  }
  model.train(was_training);
  const auto iou = acc.iou();
  const auto best = iou.argmax(1);
  return {unit_index, thresholds, iou, best, iou.gather(1, best.unsqueeze(1)).squeeze(1)};
}

torch::Tensor soft_wpmi(const torch::Tensor& unit_acts, const torch::Tensor& concept_acts, const SoftWpmiOptions& o) {
  LOUPE_CHECK(unit_acts.dim() == 2 && concept_acts.dim() == 2 && unit_acts.size(0) == concept_acts.size(0),
              "soft-WPMI: expected unit activations [N,U] and a concept matrix [N,M] with the same N images, got ",
              unit_acts.sizes(), " and ", concept_acts.sizes());
  const int64_t n = unit_acts.size(0);
  LOUPE_CHECK(o.top_k >= 1 && o.top_k <= n, "soft-WPMI: top_k ", o.top_k, ": expected 1 to ", n, " (the images)");
  LOUPE_CHECK(o.p_start > 0 && o.p_start <= 1 && o.p_end > 0 && o.p_end <= o.p_start,
              "soft-WPMI: expected 0 < p_end <= p_start <= 1");
  LOUPE_CHECK(torch::isfinite(concept_acts).all().item<bool>() && torch::isfinite(unit_acts).all().item<bool>(),
              "soft-WPMI: the activations hold NaN or infinite values");
  const auto p = torch::softmax(o.a * concept_acts.to(torch::kDouble), 1);      // [N,M]
  const auto top = std::get<1>(unit_acts.to(torch::kDouble).topk(o.top_k, 0));  // [k,U]
  const auto ranks = torch::arange(o.top_k, torch::kDouble) / static_cast<double>(o.top_k);
  const auto p_in = (o.p_start - ranks * (o.p_start - o.p_end)).view({o.top_k, 1, 1});          // [k,1,1]
  const auto p_top = p.index_select(0, top.flatten()).view({o.top_k, top.size(1), p.size(1)});  // [k,U,M]
  const auto log_given = (1 + p_in * (p_top - 1) + o.min_prob).log().sum(0);                    // [U,M]
  const auto log_prior = torch::logsumexp(log_given, 0, true) - std::log(static_cast<double>(log_given.size(0)));
  return log_given - o.lambda * log_prior;
}

ConceptSet remap_concepts(const ConceptSet& concepts, const torch::Tensor& source_indices) {
  ConceptSet set = concepts;
  const auto map = source_indices.to(torch::kCPU, torch::kLong);
  const auto base = concepts.masks;
  set.masks = [base, map](const torch::Tensor& images, const torch::Tensor& positions) {
    return base(images, map.index_select(0, positions.to(torch::kCPU)));
  };
  return set;
}

ConceptSet coloured_concepts(const std::vector<std::string>& class_names, std::vector<int64_t> colours,
                             const torch::Tensor& labels) {
  const auto& palette = coloured_palette_names();
  ConceptSet set;
  for (const auto& c : palette) set.names.push_back("colour:" + c), set.kinds.push_back("colour");
  for (const auto& c : class_names) set.names.push_back("class:" + c), set.kinds.push_back("class");
  const auto colour_of = torch::tensor(colours, torch::kLong);
  const auto label_of = labels.to(torch::kCPU, torch::kLong);
  LOUPE_CHECK(colour_of.size(0) == label_of.size(0), "coloured concepts: ", colour_of.size(0), " colours for ",
              label_of.size(0), " labels");
  const int64_t colours_n = static_cast<int64_t>(palette.size()), classes_n = static_cast<int64_t>(class_names.size());
  set.masks = [colour_of, label_of, colours_n, classes_n](const torch::Tensor& images, const torch::Tensor& indices) {
    const auto strokes = images.amax(1).gt(0.2).unsqueeze(1);  // [B,1,H,W]
    const auto colour = colour_of.index_select(0, indices), label = label_of.index_select(0, indices);
    const auto is_colour = colour.view({-1, 1}).eq(torch::arange(colours_n, torch::kLong).view({1, -1}));
    const auto is_class = label.view({-1, 1}).eq(torch::arange(classes_n, torch::kLong).view({1, -1}));
    const auto which = torch::cat({is_colour, is_class}, 1).to(strokes.device()).view({images.size(0), -1, 1, 1});
    return strokes & which;
  };
  return set;
}

ConceptSet shapes3d_concepts(const Shapes3D& data) {
  ConceptSet set;
  const auto& parts = shapes3d_part_names();
  for (const auto& p : parts) set.names.push_back("part:" + p), set.kinds.push_back("part");
  const auto hues = shapes3d_value_names(0);  // the ten hues, the same for floor, wall and object
  const std::vector<std::string> coloured_parts = {"floor", "wall", "object"};
  for (const auto& p : coloured_parts)
    for (const auto& h : hues) set.names.push_back(p + ":" + h), set.kinds.push_back(p + " hue");
  const int64_t n_hues = static_cast<int64_t>(hues.size());
  set.masks = [data, n_hues](const torch::Tensor& images, const torch::Tensor& indices) {
    const auto factors = data.factors(indices);  // [B,6]: floor_hue, wall_hue, object_hue, ...
    const auto part = data.render_parts(factors, torch::kCPU).to(images.device());  // [B,H,W]
    std::vector<torch::Tensor> masks;
    for (int64_t p = 0; p < 4; ++p) masks.push_back(part.eq(p));
    const auto hue_values = torch::arange(n_hues, torch::kLong).view({1, -1, 1, 1}).to(images.device());
    for (int64_t p = 1; p <= 3; ++p) {  // floor, wall, object: factor p - 1 is the part's hue
      const auto hue = factors.select(1, p - 1).to(images.device()).view({-1, 1, 1, 1});
      masks.push_back(part.eq(p).unsqueeze(1) & hue.eq(hue_values));  // [B,10,H,W]
    }
    for (int64_t p = 0; p < 4; ++p) masks[static_cast<size_t>(p)] = masks[static_cast<size_t>(p)].unsqueeze(1);
    return torch::cat(masks, 1);
  };
  return set;
}

}  // namespace loupe
