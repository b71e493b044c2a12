// The probe study's sparse-autoencoder step (probe_steps.h): train, measure, build each
// feature's dashboard data, and steer with the most colour-specific feature.
#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "probe_steps.h"

namespace loupe::probe_study {

SaeProbe sae_probe(TappedModel& net, const std::string& tap, const std::string& model_name, const ProbeSet& probe,
                   const ProbeStudyOptions& o, const ProbeStudySettings& s) {
  const auto device = o.common.device;
  SaeProbe p;
  p.tap = tap;
  p.checkpoint = o.common.out / "models" / ("sae_" + model_name + ".pt");
  SaeTrainOptions t;
  t.spec.features = s.sae_features;
  t.spec.kind = parse_sae_kind(o.sae_kind, "--sae");
  t.spec.k = o.sae_k;
  t.l1 = o.sae_l1;
  t.steps = s.sae_steps;
  t.batch_size = s.sae_batch;
  t.resample_every = std::max<int64_t>(50, s.sae_steps / 4);
  t.seed = o.common.seed;
  t.checkpoint = p.checkpoint;
  t.label = "sae " + model_name;
  p.training = train_sae(net, tap, probe.data, t, device);
  auto& sae = *p.training.sae;
  p.metrics = evaluate_sae(net, tap, sae, probe.data, ActivationSampling::kPositions, device);
  p.top = top_feature_activations(net, tap, sae, probe.data, o.top_k, device);
  const auto labels = probe.data.labels().index_select(0, p.top.indices.flatten()).view(p.top.indices.sizes());
  const auto colours =
      torch::tensor(probe.colours, torch::kLong).index_select(0, p.top.indices.flatten()).view(p.top.indices.sizes());
  const auto live = p.metrics.feature_frequency.gt(0);
  p.class_entropy = row_entropy(labels, 10).masked_fill(~live, std::nan(""));
  p.colour_entropy = row_entropy(colours, 10).masked_fill(~live, std::nan(""));
  // Steer with the live feature whose top images agree most on one colour.
  const auto ranked = torch::where(live, p.colour_entropy, torch::full_like(p.colour_entropy, 1e9));
  p.steered = live.any().item<bool>() ? ranked.argmin().item<int64_t>() : -1;
  if (p.steered >= 0) {
    // α in multiples of the feature's mean activation on its top images.
    p.alphas = {0.0, 0.5, 1.0, 2.0, 4.0, 8.0};
    const double typical = p.top.scores[p.steered].mean().item<double>();
    std::vector<double> scaled;
    for (const double a : p.alphas) scaled.push_back(a * typical);
    const auto images = probe.data.get(torch::arange(std::min<int64_t>(256, probe.data.size()), torch::kLong)).images;
    p.steering = steer(net, tap, sae, p.steered, scaled, images.to(device));
  }
  return p;
}

}  // namespace loupe::probe_study
