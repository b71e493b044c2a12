#include "loupe/explain/perturbation.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "explain/perturbation_detail.h"
#include "loupe/core/blur.h"
#include "loupe/core/compat.h"
#include "loupe/core/error.h"
#include "loupe/explain/cam_base.h"
#include "loupe/explain/segmentation.h"
#include "loupe/models/incremental.h"
#include "loupe/models/quantized.h"

namespace loupe {
namespace {

void check_image(const torch::Tensor& image, const std::string& what) {
  LOUPE_CHECK(image.defined() && image.dim() == 3, what, ": expected an image [C,H,W], got ",
              image.defined() ? image.sizes() : torch::IntArrayRef{});
}

// Stacks tensors of equal rank, zero-padding every dimension to the largest size.
torch::Tensor pad_stack(const std::vector<torch::Tensor>& parts) {
  std::vector<int64_t> size = parts.front().sizes().vec();
  for (const auto& p : parts)
    for (size_t d = 0; d < size.size(); ++d) size[d] = std::max(size[d], p.size(static_cast<int64_t>(d)));
  std::vector<torch::Tensor> padded;
  for (const auto& p : parts) {
    if (p.sizes().vec() == size) {
      padded.push_back(p);
      continue;
    }
    auto out = torch::zeros(size, p.options());
    auto view = out;
    for (int64_t d = 0; d < p.dim(); ++d) view = view.narrow(d, 0, p.size(d));
    view.copy_(p);
    padded.push_back(out);
  }
  return torch::stack(padded);
}

}  // namespace

PerturbationEngine::PerturbationEngine(TappedModel& model, PerturbationOptions options)
    : model_(model), options_(std::move(options)), device_(model_device(model)), was_training_(model.is_training()) {
  LOUPE_CHECK(options_.batch_size > 0, "perturbation batch size ", options_.batch_size, ": expected a positive number");
  LOUPE_CHECK(!(options_.precision == Precision::kHalf && device_.is_cpu()),
              "precision fp16: the CPU computes in float or bf16 (autocast); use bf16, or fp16 on CUDA");
  LOUPE_CHECK(options_.precision != Precision::kInt8 || (device_.is_cpu() && QuantizedForward::supports(model_)),
              "precision int8: quantisation runs the zoo's CNNs on the CPU (got ", model_.arch(), " on ", device_.str(),
              QuantizedForward::engine().empty() ? ", and this LibTorch has no quantized engine" : "",
              "); use float or bf16");
  model_.eval();
}

PerturbationEngine::~PerturbationEngine() {
  if (was_training_) model_.train();
}

torch::Tensor PerturbationEngine::score(const std::function<torch::Tensor()>& forward, const torch::Tensor& inputs,
                                        const std::vector<Target>& targets) {
  torch::NoGradGuard no_grad;
  // Reduced precision is autocast: bf16 or fp16 on CUDA, bf16 on the CPU (oneDNN's
  // AVX-512 bf16 kernels where the CPU has them).
  compat::Autocast guard(options_.precision == Precision::kBFloat16 || options_.precision == Precision::kHalf,
                         device_.type(), options_.precision == Precision::kHalf ? at::kHalf : at::kBFloat16);
  torch::Tensor outputs;
  try {
    outputs = forward();
  } catch (const c10::Error& e) {
    fail("model ", model_.arch(), " rejected perturbed inputs of shape ", inputs.sizes(),
         " (an image of the wrong size or channel count?): ", e.what_without_backtrace());
  }
  evaluations_ += inputs.size(0);
  const auto samples = torch::full({inputs.size(0)}, sample_, torch::TensorOptions(torch::kLong).device(device_));
  std::vector<torch::Tensor> columns;
  for (const auto& target : targets) {
    const auto s = target(outputs, inputs, samples);
    LOUPE_CHECK(s.dim() == 1 && s.size(0) == inputs.size(0), "target: expected one value per image ([", inputs.size(0),
                "]), got ", s.sizes());
    columns.push_back(s.to(torch::kFloat));
  }
  return torch::stack(columns, 1);
}

torch::Tensor PerturbationEngine::evaluate(const torch::Tensor& image, const torch::Tensor& fill, int64_t count,
                                           const MaskBatch& masks, const std::vector<Target>& targets,
                                           const BatchSink& sink) {
  return evaluate_masks(image, fill, count, masks, targets, sink,
                        [&](int64_t, int64_t, const torch::Tensor& inputs) { return forward_pixels(inputs, fill); });
}

torch::Tensor PerturbationEngine::forward_pixels(const torch::Tensor& inputs, const torch::Tensor& fill) {
  if (options_.precision != Precision::kInt8) return model_.forward(inputs);
  // Calibrated once: on the first batch of perturbed images and the fill itself.
  if (!quantized_)
    quantized_ = std::make_unique<QuantizedForward>(
        model_, torch::cat({inputs, fill.to(inputs.device(), torch::kFloat).unsqueeze(0)}));
  return quantized_->forward(inputs);
}

torch::Tensor PerturbationEngine::evaluate_masks(const torch::Tensor& image, const torch::Tensor& fill, int64_t count,
                                                 const MaskBatch& masks, const std::vector<Target>& targets,
                                                 const BatchSink& sink, const MaskedForward& forward) {
  check_image(image, "image");
  LOUPE_CHECK(fill.defined() && fill.sizes() == image.sizes(), "fill image: expected the image's size ", image.sizes(),
              ", got ", fill.defined() ? fill.sizes() : torch::IntArrayRef{});
  LOUPE_CHECK(!targets.empty(), "perturbation engine: expected at least one target");
  const auto x = image.to(device_, torch::kFloat);
  const auto f = fill.to(device_, torch::kFloat);
  const auto delta = (x - f).unsqueeze(0);
  std::vector<torch::Tensor> scores;
  for (int64_t begin = 0; begin < count; begin += options_.batch_size) {
    const int64_t end = std::min(count, begin + options_.batch_size);
    auto m = masks(begin, end).to(device_, torch::kFloat);
    if (m.dim() == 4 && m.size(1) == 1) m = m.squeeze(1);
    LOUPE_CHECK(m.dim() == 3 && m.size(0) == end - begin && m.size(1) == x.size(1) && m.size(2) == x.size(2),
                "pixel masks: expected [", end - begin, ",", x.size(1), ",", x.size(2), "], got ", m.sizes());
    const auto inputs = f.unsqueeze(0) + m.unsqueeze(1) * delta;
    auto s = score([&] { return forward(begin, end, inputs); }, inputs, targets);
    if (sink) sink(begin, m, s);
    scores.push_back(std::move(s));
  }
  if (scores.empty()) return torch::zeros({0, static_cast<int64_t>(targets.size())}, x.options());
  return torch::cat(scores);
}

torch::Tensor PerturbationEngine::evaluate_boxes(const torch::Tensor& image, const torch::Tensor& fill, int64_t count,
                                                 const BoxBatch& boxes, const std::vector<Target>& targets,
                                                 const BatchSink& sink) {
  check_image(image, "image");
  const int64_t h = image.size(1), w = image.size(2);
  const auto opts = torch::TensorOptions(torch::kLong).device(device_);
  const auto rows = torch::arange(h, opts).view({1, h, 1}), cols = torch::arange(w, opts).view({1, 1, w});
  torch::Tensor batch_boxes;  // the boxes of the batch being evaluated
  const auto masks = [&](int64_t b, int64_t e) {
    batch_boxes = boxes(b, e).to(device_, torch::kLong);
    LOUPE_CHECK(batch_boxes.dim() == 2 && batch_boxes.size(0) == e - b && batch_boxes.size(1) == 4,
                "occlusion boxes: expected [", e - b, ",4], got ", batch_boxes.sizes());
    const auto edge = [&](int64_t i) { return batch_boxes.select(1, i).view({-1, 1, 1}); };
    const auto hidden =
        (rows >= edge(0)).logical_and(rows < edge(2)).logical_and(cols >= edge(1)).logical_and(cols < edge(3));
    return 1 - hidden.to(torch::kFloat);
  };
  if (!options_.incremental || !IncrementalForward::supports(model_) || options_.precision == Precision::kInt8)
    return evaluate(image, fill, count, masks, targets, sink);
  if (!incremental_) incremental_ = std::make_unique<IncrementalForward>(model_);
  const auto x = image.to(device_, torch::kFloat).unsqueeze(0);
  score([&] { return incremental_->set_base(x[0]); }, x, targets);
  return evaluate_masks(image, fill, count, masks, targets, sink, [&](int64_t, int64_t, const torch::Tensor& inputs) {
    return incremental_->forward(inputs, batch_boxes);
  });
}

torch::Tensor PerturbationEngine::evaluate_features(const torch::Tensor& image, const torch::Tensor& fill,
                                                    const torch::Tensor& feature_masks, const torch::Tensor& labels,
                                                    const std::vector<Target>& targets) {
  check_image(image, "image");
  const int64_t k = check_label_map(labels, image.size(1), image.size(2), "label map");
  LOUPE_CHECK(feature_masks.dim() == 2 && feature_masks.size(1) == k, "feature masks: expected [M,", k,
              "] for a label map of ", k, " features, got ", feature_masks.sizes());
  const auto flat = labels.to(device_).flatten();
  const auto keep = feature_masks.to(device_, torch::kFloat);
  const int64_t h = image.size(1), w = image.size(2);
  return evaluate(
      image, fill, keep.size(0),
      [&](int64_t b, int64_t e) {
        return keep.slice(0, b, e).index_select(1, flat).view({e - b, h, w});
      },
      targets);
}

std::pair<torch::Tensor, torch::Tensor> PerturbationEngine::activations(const std::string& tap,
                                                                        const torch::Tensor& image,
                                                                        const std::vector<Target>& targets) {
  check_image(image, "image");
  model_.check_tap(tap);
  const auto x = image.to(device_, torch::kFloat).unsqueeze(0);
  Taps taps;
  taps.record(tap);
  const auto s = score([&] { return model_.forward(x, &taps); }, x, targets);
  const auto a = taps.recorded(tap);
  LOUPE_CHECK(a.dim() == 4, "tap ", tap, " of ", model_.arch(),
              ": CAM methods need a spatial feature map [N,C,h,w], got ", a.sizes());
  return {a[0].to(torch::kFloat), s[0]};
}

torch::Tensor PerturbationEngine::evaluate_channels(const std::string& tap, const torch::Tensor& activation,
                                                    int64_t count, const MaskBatch& keep,
                                                    const std::vector<Target>& targets) {
  const auto a = activation.to(device_, torch::kFloat).unsqueeze(0);
  std::vector<torch::Tensor> scores;
  for (int64_t begin = 0; begin < count; begin += options_.batch_size) {
    const int64_t end = std::min(count, begin + options_.batch_size);
    const auto k = keep(begin, end).to(device_, torch::kFloat);
    LOUPE_CHECK(k.dim() == 2 && k.size(0) == end - begin && k.size(1) == a.size(1), "channel masks: expected [",
                end - begin, ",", a.size(1), "], got ", k.sizes());
    const auto inputs = a * k.view({end - begin, a.size(1), 1, 1});
    scores.push_back(score([&] { return model_.forward_from(tap, inputs); }, inputs, targets));
  }
  return torch::cat(scores);
}

int64_t check_label_map(const torch::Tensor& labels, int64_t height, int64_t width, const std::string& what) {
  LOUPE_CHECK(labels.defined() && labels.dim() == 2, what, ": expected a label map [H,W], got ",
              labels.defined() ? labels.sizes() : torch::IntArrayRef{});
  LOUPE_CHECK(labels.size(0) == height && labels.size(1) == width, what, ": label map of size ", labels.size(0), "x",
              labels.size(1), " does not match the image's ", height, "x", width);
  LOUPE_CHECK(labels.scalar_type() == torch::kLong, what, ": expected int64 labels, got ", labels.scalar_type());
  LOUPE_CHECK(labels.min().item<int64_t>() >= 0, what, ": expected labels >= 0, got ", labels.min().item<int64_t>());
  return labels.max().item<int64_t>() + 1;
}

torch::Tensor image_segments(const torch::Tensor& image, const PerturbationOptions& options, int64_t index) {
  if (options.segments.defined()) {
    auto labels = options.segments;
    if (labels.dim() == 3) {
      LOUPE_CHECK(index < labels.size(0), "segments: ", labels.size(0), " label maps for image ", index,
                  "; expected one per image or a single [H,W] map");
      labels = labels[index];
    }
    check_label_map(labels, image.size(1), image.size(2), "segments");
    return labels.to(image.device());
  }
  return segment(image, options.segmentation);
}

torch::Tensor gaussian_blur_kernel(const torch::Tensor& image, int64_t kernel_size) {
  check_image(image, "blur image");
  LOUPE_CHECK(kernel_size >= 1, "blur size ", kernel_size, ": expected a positive kernel side");
  const int64_t k = kernel_size | 1;  // odd, as OpenCV requires
  return gaussian_blur(image.to(torch::kFloat), opencv_sigma(k), k / 2, BlurBorder::kReplicate);
}

torch::Tensor segment_mean(const torch::Tensor& image, const torch::Tensor& labels) {
  check_image(image, "image");
  const int64_t k = check_label_map(labels, image.size(1), image.size(2), "label map");
  const auto flat = labels.to(image.device()).flatten();
  const auto pixels = image.to(torch::kFloat).flatten(1);  // [C,HW]
  const auto sums = torch::zeros({image.size(0), k}, pixels.options()).index_add_(1, flat, pixels);
  const auto counts = torch::bincount(flat, {}, k).to(torch::kFloat).clamp_min(1);
  return (sums / counts).index_select(1, flat).view_as(image);
}

torch::Tensor masker_fill(const torch::Tensor& image, const PerturbationOptions& options, Masker fallback,
                          int64_t index, const torch::Tensor& labels) {
  switch (options.masker == Masker::kAuto ? fallback : options.masker) {
    case Masker::kAuto:
    case Masker::kConstant:
      return torch::full_like(image, options.fill_value, image.options().dtype(torch::kFloat));
    case Masker::kImageMean:
      return image.to(torch::kFloat).mean({1, 2}, true).expand_as(image).contiguous();
    case Masker::kBlur:
      check_image(image, "blur image");
      LOUPE_CHECK(options.blur_size >= 1, "blur size ", options.blur_size, ": expected a positive kernel side");
      return box_blur(image.to(torch::kFloat), options.blur_size, options.blur_size);
    case Masker::kGaussianBlur:
      return gaussian_blur_kernel(image, options.blur_size);
    case Masker::kReplacement: {
      auto r = options.replacement;
      LOUPE_CHECK(r.defined(), "replacement masker: no replacement image set (PerturbationOptions::set_replacement)");
      if (r.dim() == 4) {
        LOUPE_CHECK(index < r.size(0), "replacement image: ", r.size(0), " images for image ", index);
        r = r[index];
      }
      LOUPE_CHECK(r.sizes() == image.sizes(), "replacement image: expected the image's size ", image.sizes(), ", got ",
                  r.sizes());
      return r.to(image.device(), torch::kFloat);
    }
    case Masker::kSegmentMean:
      LOUPE_CHECK(labels.defined(), "segment-mean masker: this method has no superpixels; choose another masker");
      return segment_mean(image, labels);
  }
  return image;  // unreachable
}

Attribution explain_images(TappedModel& model, const torch::Tensor& images, const ExplainOptions& options,
                           const ImageSolver& solve) {
  check_images(images, "images");
  PerturbationEngine engine(model, options.perturbation);
  std::vector<torch::Tensor> maps, weights, scores;
  std::map<std::string, std::vector<torch::Tensor>> extras;
  for (int64_t i = 0; i < images.size(0); ++i) {
    const auto image = images[i].to(engine.device(), torch::kFloat);
    engine.set_sample(i);
    const auto r = solve(engine, image, i);
    maps.push_back(r.map.detach().to(torch::kCPU, torch::kFloat));
    if (r.weights.defined()) weights.push_back(r.weights.detach().to(torch::kCPU, torch::kFloat));
    scores.push_back(r.score.detach().to(torch::kCPU, torch::kFloat).reshape({}));
    for (const auto& [name, value] : r.extras)
      extras[name].push_back(value.is_floating_point() ? value.detach().to(torch::kCPU, torch::kFloat)
                                                       : value.detach().cpu());
  }
  Attribution out;
  out.maps = torch::stack(maps);
  if (!options.signed_maps) out.maps = torch::relu(out.maps);
  if (options.normalize) out.maps = scale_maps(out.maps, options.signed_maps);
  if (!weights.empty()) out.weights = pad_stack(weights);
  out.scores = torch::stack(scores);
  for (const auto& [name, values] : extras) out.extras[name] = pad_stack(values);
  out.model_evaluations = engine.evaluations();
  return out;
}

torch::Tensor PerturbationCam::batch_weights(CamBatch& batch) {
  PerturbationEngine engine(batch.model, options().perturbation);
  std::vector<torch::Tensor> weights;
  for (int64_t i = 0; i < batch.images.size(0); ++i) {
    engine.set_sample(batch.first + i);
    weights.push_back(image_channel_weights(engine, batch.tap, batch.images[i], batch.activations[i].to(torch::kFloat),
                                            batch.scores[i].to(torch::kFloat), batch.target));
  }
  batch.evaluations += engine.evaluations();
  return torch::stack(weights);
}

}  // namespace loupe
