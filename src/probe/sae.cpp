#include "loupe/probe/sae.h"

#include <torch/torch.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "loupe/core/choices.h"
#include "loupe/core/device.h"
#include "loupe/core/error.h"
#include "loupe/models/checkpoint.h"
#include "loupe/train/objective.h"

namespace loupe {

namespace F = torch::nn::functional;

std::vector<std::string> sae_kind_names() { return {"relu", "topk"}; }
SaeKind parse_sae_kind(const std::string& text, const std::string& what) {
  return static_cast<SaeKind>(choice_index(text, sae_kind_names(), what));
}
std::vector<std::string> activation_sampling_names() { return {"positions", "pooled"}; }
ActivationSampling parse_activation_sampling(const std::string& text, const std::string& what) {
  return static_cast<ActivationSampling>(choice_index(text, activation_sampling_names(), what));
}

void check_sae_spec(const SaeSpec& s) {
  LOUPE_CHECK(s.inputs >= 1, "SAE inputs ", s.inputs, ": expected at least 1 (the tap's channels)");
  LOUPE_CHECK(s.features >= 1 && s.features <= (1 << 20), "SAE dictionary size ", s.features,
              ": expected 1 to 1048576 features");
  LOUPE_CHECK(s.kind != SaeKind::kTopK || (s.k >= 1 && s.k <= s.features), "SAE k ", s.k,
              ": expected 1 to the dictionary size ", s.features);
}

std::string sae_spec_json(const SaeSpec& s) {
  return nlohmann::json{{"arch", "sae"},
                        {"inputs", s.inputs},
                        {"features", s.features},
                        {"kind", sae_kind_names()[static_cast<size_t>(s.kind)]},
                        {"k", s.k}}
      .dump();
}

SaeSpec sae_spec_from_json(const std::string& text, const std::string& what) {
  try {
    const auto j = nlohmann::json::parse(text);
    LOUPE_CHECK(j.at("arch").get<std::string>() == "sae", what, ": not a sparse autoencoder (arch ", j.at("arch"), ")");
    SaeSpec s;
    s.inputs = j.at("inputs").get<int64_t>();
    s.features = j.at("features").get<int64_t>();
    s.kind = parse_sae_kind(j.at("kind").get<std::string>(), what);
    s.k = j.at("k").get<int64_t>();
    check_sae_spec(s);
    return s;
  } catch (const nlohmann::json::exception& e) {
    fail(what, ": unreadable SAE spec (", e.what(), ")");
  }
}

SparseAutoencoderImpl::SparseAutoencoderImpl(const SaeSpec& spec) : spec_(spec) {
  check_sae_spec(spec);
  auto dec = torch::randn({spec.features, spec.inputs});
  dec = dec / dec.norm(2, 1, true).clamp_min(1e-12);
  w_enc = register_parameter("w_enc", dec.t().clone());  // tied at the start
  w_dec = register_parameter("w_dec", dec);
  b_enc = register_parameter("b_enc", torch::zeros({spec.features}));
  b_dec = register_parameter("b_dec", torch::zeros({spec.inputs}));
  input_scale = register_buffer("input_scale", torch::ones({}));
}

torch::Tensor SparseAutoencoderImpl::encode(const torch::Tensor& x) const {
  const auto pre = torch::relu(torch::matmul(x * input_scale - b_dec, w_enc) + b_enc);
  if (spec_.kind == SaeKind::kRelu) return pre;
  const auto top = pre.topk(spec_.k, 1);
  return torch::zeros_like(pre).scatter(1, std::get<1>(top), std::get<0>(top));
}

torch::Tensor SparseAutoencoderImpl::decode(const torch::Tensor& f) const {
  return (torch::matmul(f, w_dec) + b_dec) / input_scale;
}

void SparseAutoencoderImpl::normalise_decoder() {
  torch::NoGradGuard no_grad;
  w_dec.div_(w_dec.norm(2, 1, true).clamp_min(1e-12));
}

torch::Tensor activation_vectors(TappedModel& model, const torch::Tensor& images, const std::string& tap,
                                 ActivationSampling sampling) {
  auto a = model.forward_until(tap, images);
  if (a.dim() == 2) return a;
  LOUPE_CHECK(a.dim() == 4, "tap '", tap, "': activations of shape ", a.sizes(), "; expected [N,C,h,w] or [N,C]");
  if (sampling == ActivationSampling::kPooled) return a.mean({2, 3});
  return a.permute({0, 2, 3, 1}).reshape({-1, a.size(1)});
}

namespace {

// The SAE loss on activations streamed through the classifier; after every optimiser
// step the decoder rows go back to unit norm, and (relu) features silent for
// resample_every steps are re-initialised.
class SaeObjective : public Objective {
 public:
  SaeObjective(TappedModel& model, std::string tap, SparseAutoencoderImpl& sae, const SaeTrainOptions& o)
      : model_(model),
        tap_(std::move(tap)),
        sae_(sae),
        o_(o),
        silent_(torch::zeros({sae.spec().features}, torch::kLong)) {}

  torch::Tensor loss(const Batch& batch, const TrainContext& ctx, StepLog& log) override {
    torch::Tensor x;
    {
      torch::NoGradGuard no_grad;
      x = activation_vectors(model_, batch.images, tap_, o_.sampling).to(torch::kFloat);
      if (ctx.step == 0) fit_scale(x);
    }
    const auto xs = x * sae_.input_scale;
    const auto f = sae_.encode(x);
    const auto recon = torch::matmul(f, sae_.w_dec) + sae_.b_dec;  // scaled space
    const auto per_sample = (recon - xs).square().sum(1);
    const auto mse = per_sample.mean();
    const auto l1 = f.sum(1).mean();
    auto loss = o_.spec.kind == SaeKind::kRelu ? mse + o_.l1 * l1 : mse;
    {
      torch::NoGradGuard no_grad;
      const auto fired = f.gt(0).any(0).to(silent_.device());
      silent_ = torch::where(fired, torch::zeros_like(silent_), silent_ + 1);
      last_inputs_ = xs.detach();
      last_errors_ = per_sample.detach();
      const double n = static_cast<double>(x.size(0));
      log.add("mse", per_sample.sum().item<double>(), n);
      log.add("l0", f.gt(0).sum().item<double>(), n);
      log.add("l1", f.sum().item<double>(), n);
      const int64_t window = o_.resample_every > 0 ? o_.resample_every : 1000;
      log.add("dead", silent_.ge(window).to(torch::kDouble).mean().item<double>());
    }
    return loss;
  }

  void step(const Batch& batch, const TrainContext& ctx, const Optimizers& optimizers, StepLog& log) override {
    Objective::step(batch, ctx, optimizers, log);
    sae_.normalise_decoder();
    if (o_.spec.kind == SaeKind::kRelu && o_.resample_every > 0 && (ctx.step + 1) % o_.resample_every == 0) resample();
  }

  std::string progress(const RecordAccumulator& r) const override {
    std::ostringstream s;
    s << "mse " << r.mean("mse") << " l0 " << r.mean("l0");
    return s.str();
  }

  int64_t resampled() const { return resampled_; }

 private:
  // scale = sqrt(d / E‖x‖²) and b_dec = the mean scaled input, from the first batch.
  void fit_scale(const torch::Tensor& x) {
    const double mean_sq = x.square().sum(1).mean().item<double>();
    const double scale = mean_sq > 0 ? std::sqrt(static_cast<double>(x.size(1)) / mean_sq) : 1.0;
    sae_.input_scale.fill_(scale);
    sae_.b_dec.copy_((x * scale).mean(0));
  }

  // Bricken et al.: each dead feature takes the direction of an input drawn with
  // probability ∝ its squared reconstruction error; its encoder column that direction
  // at 0.2 × the mean norm of the living encoder columns, its bias 0.
  void resample() {
    torch::NoGradGuard no_grad;
    const auto dead = silent_.ge(o_.resample_every).nonzero().view(-1);
    const int64_t n = dead.size(0);
    if (n == 0 || !last_inputs_.defined()) return;
    const auto alive = silent_.lt(o_.resample_every);
    const double enc_norm =
        alive.any().item<bool>()
            ? sae_.w_enc.norm(2, 0).masked_select(alive.to(sae_.w_enc.device())).mean().item<double>()
            : 1.0;
    const auto weights = last_errors_.square() + 1e-12;
    const auto picks = torch::multinomial(weights, n, /*replacement=*/true);
    auto dirs = last_inputs_.index_select(0, picks) - sae_.b_dec;
    dirs = dirs / dirs.norm(2, 1, true).clamp_min(1e-12);
    const auto idx = dead.to(sae_.w_dec.device());
    sae_.w_dec.index_copy_(0, idx, dirs);
    sae_.w_enc.index_copy_(1, idx, (dirs * 0.2 * enc_norm).t());
    sae_.b_enc.index_fill_(0, idx, 0.0);
    silent_.index_fill_(0, dead, 0);
    resampled_ += n;
  }

  TappedModel& model_;
  std::string tap_;
  SparseAutoencoderImpl& sae_;
  SaeTrainOptions o_;
  torch::Tensor silent_;  // steps since each feature last fired
  torch::Tensor last_inputs_, last_errors_;
  int64_t resampled_ = 0;
};

int64_t tap_channels(TappedModel& model, const std::string& tap, const Dataset& data, torch::Device device) {
  torch::NoGradGuard no_grad;
  const auto images = data.get(torch::zeros({1}, torch::kLong)).images.to(device);
  return activation_vectors(model, images, tap, ActivationSampling::kPooled).size(1);
}

}  // namespace

SaeTraining train_sae(TappedModel& model, const std::string& tap, const Dataset& data, const SaeTrainOptions& o,
                      torch::Device device) {
  model.check_tap(tap);
  LOUPE_CHECK(data.size() >= 1, "SAE training: the dataset is empty");
  LOUPE_CHECK(o.l1 >= 0 && std::isfinite(o.l1), "SAE L1 coefficient ", o.l1, ": expected >= 0");
  LOUPE_CHECK(o.steps >= 1, "SAE steps ", o.steps, ": expected at least 1");
  LOUPE_CHECK(o.resample_every >= 0, "SAE resampling period ", o.resample_every, ": expected >= 0 (0 = never)");
  const bool was_training = model.is_training();
  model.to(device);
  model.eval();
  SaeSpec spec = o.spec;
  spec.inputs = tap_channels(model, tap, data, device);
  check_sae_spec(spec);
  torch::manual_seed(o.seed);
  SaeTraining r;
  r.sae = SparseAutoencoder(spec);
  r.sae->to(device);
  auto optimizer = torch::optim::Adam(r.sae->parameters(), torch::optim::AdamOptions(o.lr));
  SaeTrainOptions local = o;
  local.spec = spec;
  SaeObjective objective(model, tap, *r.sae, local);
  TrainOptions t;
  t.set_lr(o.lr).set_max_steps(o.steps).set_batch_size(std::min(o.batch_size, data.size())).set_seed(o.seed);
  t.set_min_batch(1)
      .set_checkpoint(o.checkpoint)
      .set_resume(o.resume)
      .set_label(o.label)
      .set_log_every(std::max<int64_t>(1, o.steps / 20));
  r.run =
      loupe::train({{{"sae", r.sae.get(), sae_spec_json(spec)}}, {{"sae", &optimizer}}}, data, objective, t, device);
  r.resampled = objective.resampled();
  r.sae->eval();
  model.train(was_training);
  return r;
}

SparseAutoencoder load_sae(const fs::path& path) {
  const auto info = read_checkpoint_info(path);
  const auto it = info.specs.find("sae");
  LOUPE_CHECK(it != info.specs.end(), "checkpoint ", path.string(), ": holds no sparse autoencoder (module 'sae')");
  SparseAutoencoder sae(sae_spec_from_json(it->second, "checkpoint " + path.string()));
  load_checkpoint(path, {{"sae", sae.get(), it->second}});
  sae->eval();
  return sae;
}

SaeMetrics evaluate_sae(TappedModel& model, const std::string& tap, SparseAutoencoderImpl& sae, const Dataset& data,
                        ActivationSampling sampling, torch::Device device, int64_t batch_size) {
  model.check_tap(tap);
  LOUPE_CHECK(batch_size >= 1 && data.size() >= 1, "SAE evaluation: expected data and a batch size >= 1");
  torch::NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.to(device);
  model.eval();
  sae.to(device);
  const int64_t features = sae.spec().features;
  double sq_err = 0, elements = 0, samples = 0, active = 0;
  torch::Tensor sum_x, sum_xx;
  auto fires = torch::zeros({features}, torch::TensorOptions().dtype(torch::kDouble).device(device));
  double correct[3] = {0, 0, 0}, loss[3] = {0, 0, 0};
  bool classifier = true;
  for (int64_t start = 0; start < data.size(); start += batch_size) {
    const int64_t n = std::min(batch_size, data.size() - start);
    const auto batch = data.get(torch::arange(start, start + n, torch::kLong));
    const auto images = batch.images.to(device);
    const auto labels = batch.labels.to(device);
    const auto x = activation_vectors(model, images, tap, sampling).to(torch::kDouble);
    const auto f = sae.encode(x.to(torch::kFloat));
    const auto recon = sae.decode(f).to(torch::kDouble);
    sq_err += (recon - x).square().sum().item<double>();
    elements += static_cast<double>(x.numel());
    samples += static_cast<double>(x.size(0));
    active += f.gt(0).sum().item<double>();
    fires += f.gt(0).sum(0).to(torch::kDouble);
    sum_x = sum_x.defined() ? sum_x + x.sum(0) : x.sum(0);
    sum_xx = sum_xx.defined() ? sum_xx + x.square().sum(0) : x.square().sum(0);
    // The classifier as it is, with the tap reconstructed by the SAE, and with the tap zeroed
    // (models whose output is not logits [N,K] skip this).
    for (int variant = 0; variant < 3 && classifier; ++variant) {
      Taps taps;
      if (variant == 1)
        taps.replace(tap, [&](const torch::Tensor& a) {
          if (a.dim() == 2) return sae.forward(a);
          if (sampling == ActivationSampling::kPooled) {
            const auto pooled = a.mean({2, 3});
            return a + (sae.forward(pooled) - pooled).unsqueeze(-1).unsqueeze(-1);
          }
          const auto v = a.permute({0, 2, 3, 1}).reshape({-1, a.size(1)});
          return sae.forward(v).view({a.size(0), a.size(2), a.size(3), a.size(1)}).permute({0, 3, 1, 2});
        });
      if (variant == 2) taps.replace(tap, [](const torch::Tensor& a) { return torch::zeros_like(a); });
      const auto logits = model.forward(images, &taps);
      if (logits.dim() != 2) {
        classifier = false;
        break;
      }
      correct[variant] += logits.argmax(1).eq(labels).sum().item<double>();
      loss[variant] +=
          F::cross_entropy(logits, labels, F::CrossEntropyFuncOptions().reduction(torch::kSum)).item<double>();
    }
  }
  model.train(was_training);
  SaeMetrics m;
  m.mse = sq_err / elements;
  const double total_var = (sum_xx - sum_x.square() / samples).sum().item<double>();
  m.explained_variance = total_var > 0 ? 1.0 - sq_err / total_var : 0.0;
  m.l0 = active / samples;
  m.feature_frequency = (fires / samples).cpu();
  m.dead_fraction = fires.eq(0).to(torch::kDouble).mean().item<double>();
  const double n = classifier ? static_cast<double>(data.size()) : std::nan("");
  m.accuracy = correct[0] / n, m.accuracy_spliced = correct[1] / n, m.accuracy_zero = correct[2] / n;
  m.loss = loss[0] / n, m.loss_spliced = loss[1] / n, m.loss_zero = loss[2] / n;
  const double gap = m.loss_zero - m.loss;
  m.loss_recovered = std::fabs(gap) > 1e-12 ? (m.loss_zero - m.loss_spliced) / gap : 1.0;
  return m;
}

torch::Tensor steer(TappedModel& model, const std::string& tap, SparseAutoencoderImpl& sae, int64_t feature,
                    const std::vector<double>& alphas, const torch::Tensor& images) {
  LOUPE_CHECK(feature >= 0 && feature < sae.spec().features, "SAE feature ", feature, ": expected 0 to ",
              sae.spec().features - 1);
  model.check_tap(tap);
  torch::NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  const auto device = images.device();
  // The feature's direction in the tap's own units (the decoder works in scaled units).
  const auto direction = (sae.w_dec[feature] / sae.input_scale).to(device);
  std::vector<torch::Tensor> rows;
  for (const double alpha : alphas) {
    Taps taps;
    taps.replace(tap, [&](const torch::Tensor& a) {
      if (a.dim() == 2) return a + alpha * direction;
      return a + alpha * direction.view({1, -1, 1, 1});
    });
    rows.push_back(torch::softmax(model.forward(images, &taps), 1).to(torch::kDouble).mean(0).cpu());
  }
  model.train(was_training);
  return torch::stack(rows);
}

TopActivations top_feature_activations(TappedModel& model, const std::string& tap, SparseAutoencoderImpl& sae,
                                       const Dataset& data, int64_t k, torch::Device device, int64_t batch_size) {
  model.check_tap(tap);
  LOUPE_CHECK(k >= 1 && batch_size >= 1 && data.size() >= 1, "SAE top images: expected data, k >= 1 and a batch size");
  torch::NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  const int64_t features = sae.spec().features;
  StreamingTopK top(features, std::min(k, data.size()));
  for (int64_t start = 0; start < data.size(); start += batch_size) {
    const int64_t n = std::min(batch_size, data.size() - start);
    const auto ids = torch::arange(start, start + n, torch::kLong);
    auto a = model.forward_until(tap, data.get(ids).images.to(device));
    if (a.dim() == 2) a = a.unsqueeze(-1).unsqueeze(-1);
    const int64_t h = a.size(2), w = a.size(3);
    const auto f = sae.encode(a.permute({0, 2, 3, 1}).reshape({-1, a.size(1)})).view({n, h, w, features});
    const auto maps = f.permute({3, 0, 1, 2});  // [F,n,h,w]
    top.add(std::get<0>(maps.flatten(2).max(2)).cpu(), ids, maps.cpu());
  }
  model.train(was_training);
  return {torch::arange(features, torch::kLong), top.ids(), top.scores(), top.payload()};
}

}  // namespace loupe
