#include "loupe/train/train_objective.h"

#include "loupe/core/choices.h"
#include "loupe/train/classifier.h"

namespace loupe {

std::vector<std::string> train_objective_names() {
  auto names = classifier_loss_names();  // the per-batch losses first, in the enum's order
  names.push_back("jtt");
  names.push_back("lff");
  return names;
}

std::string train_objective_name(TrainObjective objective) {
  return train_objective_names().at(static_cast<size_t>(objective));
}

TrainObjective parse_train_objective(const std::string& text, const std::string& what) {
  return static_cast<TrainObjective>(choice_index(text, train_objective_names(), what));
}

namespace {

// The per-batch objectives share ClassifierLoss's values.
static_assert(static_cast<int>(TrainObjective::kAdversarial) == static_cast<int>(ClassifierLoss::kAdversarial) &&
              static_cast<int>(TrainObjective::kFocal) == static_cast<int>(ClassifierLoss::kFocal));

bool is_procedure(TrainObjective o) { return o == TrainObjective::kJtt || o == TrainObjective::kLff; }

ClassifierLossOptions batch_loss(const TrainObjectiveOptions& o) {
  auto loss = o.loss;
  loss.set_loss(is_procedure(o.objective) ? ClassifierLoss::kCrossEntropy
                                          : static_cast<ClassifierLoss>(static_cast<int>(o.objective)));
  return loss;
}

}  // namespace

void check_train_objective_options(const TrainObjectiveOptions& o) {
  check_classifier_loss_options(batch_loss(o));
  if (o.objective == TrainObjective::kJtt) check_jtt_options(o.jtt);
  if (o.objective == TrainObjective::kLff) check_lff_options(o.lff);
}

TrainResult train_with_objective(TappedModel& model, const ModelSpec& spec, const TensorDataset& train,
                                 const Dataset* val, const TrainOptions& options, torch::Device device,
                                 const TrainObjectiveOptions& o) {
  check_train_objective_options(o);
  switch (o.objective) {
    case TrainObjective::kJtt:
      return train_jtt(model, spec, train, val, options, device, o.jtt).final_run;
    case TrainObjective::kLff:
      return train_lff(model, spec, train, val, options, device, o.lff).run;
    default:
      return train_classifier(model, spec, train, val, options, device, batch_loss(o));
  }
}

}  // namespace loupe
