#include "loupe/train/jtt.h"

#include <torch/torch.h>

#include "loupe/core/error.h"
#include "loupe/train/classifier.h"

namespace loupe {

void check_jtt_options(const JttOptions& o) {
  LOUPE_CHECK(o.identification_epochs >= 1, "JTT identification epochs ", o.identification_epochs,
              ": expected at least 1");
  LOUPE_CHECK(o.upweight >= 1, "JTT up-weight ", o.upweight,
              ": expected at least 1 (copies of each misclassified image per epoch)");
}

JttResult train_jtt(TappedModel& model, const ModelSpec& spec, const TensorDataset& train, const Dataset* val,
                    const TrainOptions& options, torch::Device device, const JttOptions& jtt) {
  check_jtt_options(jtt);
  JttResult r;
  // Stage 1: the identification model, plain cross-entropy.
  torch::manual_seed(options.seed);
  r.identification = make_model(spec);
  auto first = TrainOptions(options).set_epochs(jtt.identification_epochs).set_max_steps(0);
  if (!options.checkpoint.empty()) {
    auto path = options.checkpoint;
    path += ".identify.pt";
    first.set_checkpoint(path);
  }
  first.set_label(options.label + " (JTT identification)");
  r.identification_run = train_classifier(*r.identification, spec, train, val, first, device);
  const auto predicted = evaluate_classifier(*r.identification, train, device).predictions.to(torch::kCPU);
  r.error_set = predicted.ne(train.labels().to(torch::kCPU)).nonzero().view(-1);

  // Stage 2: every image once, the error set λ_up times.
  std::vector<torch::Tensor> parts = {torch::arange(train.size(), torch::kLong)};
  for (int64_t k = 1; k < jtt.upweight; ++k) parts.push_back(r.error_set);
  const auto upsampled = train.subset(torch::cat(parts));
  r.final_run = train_classifier(model, spec, upsampled, val, options, device);
  return r;
}

}  // namespace loupe
