#include "loupe/studies/study.h"

#include <optional>
#include <utility>

#include "loupe/core/error.h"
#include "loupe/data/anomaly_synth.h"
#include "loupe/studies/anomaly.h"
#include "loupe/studies/bias.h"
#include "loupe/studies/compare_study.h"
#include "loupe/studies/disentangle.h"
#include "loupe/studies/outliers.h"
#include "loupe/studies/probe.h"
#include "loupe/studies/robustness.h"

namespace loupe {

namespace {

// The lazy model and control the demo's bias study wrote, if both are there.
std::optional<std::pair<fs::path, fs::path>> bias_models(const EarlierStudies& earlier) {
  const auto it = earlier.find("bias");
  if (it == earlier.end()) return std::nullopt;
  const auto lazy = it->second / "models" / "lazy.pt", control = it->second / "models" / "control.pt";
  std::error_code ec;
  if (!fs::is_regular_file(lazy, ec) || !fs::is_regular_file(control, ec)) return std::nullopt;
  return std::make_pair(lazy, control);
}

}  // namespace

const std::vector<StudyEntry>& studies() {
  static const std::vector<StudyEntry> entries = {
      {"bias",
       "Shortcut learning on ColouredFashionMNIST (ColouredMNIST with --base mnist): a lazy model that learns "
       "colour vs a grayscale control",
       [](const StudyCommon& common, const EarlierStudies&) {
         BiasStudyOptions o;
         o.common = common;
         return run_bias_study(o);
       },
       {}},
      {"compare",
       "Explanation methods side by side on scikit-image's photos: maps, Grad-CAM/LIME agreement, faithfulness, time",
       [](const StudyCommon& common, const EarlierStudies&) {
         CompareStudyOptions o;
         o.common = common;
         return run_compare_study(o);
       },
       [] {
         return find_skimage_photos().empty()
                    ? std::string("scikit-image's photos not found (run scripts/fetch_photos.sh)")
                    : std::string();
       }},
      {"disentangle",
       "Disentanglement on procedural Shapes3D: a beta-TCVAE, MIG/DCI/SAP/SSIM, latent x factor MI, traversals",
       [](const StudyCommon& common, const EarlierStudies&) {
         DisentangleStudyOptions o;
         o.common = common;
         return run_disentangle_study(o);
       },
       {}},
      {"outliers",
       "Latent outliers on procedural Shapes3D: a beta-TCVAE, Mahalanobis scores, counterfactuals, latent Grad-CAM",
       [](const StudyCommon& common, const EarlierStudies& earlier) {
         OutliersStudyOptions o;
         o.common = common;
         // The demo's outliers score the disentangle study's VAE (the same procedural
         // Shapes3D) instead of training a second one.
         const auto it = earlier.find("disentangle");
         std::error_code ec;
         if (it != earlier.end() && fs::is_regular_file(it->second / "models" / "vae.pt", ec))
           o.model = it->second / "models" / "vae.pt";
         return run_outliers_study(o);
       },
       {}},
      {"anomaly",
       "Anomaly detection on MVTec-layout parts (built-in hazelnut): a VAE-GAN, anomaly maps, τ*, pixel AUROC/PRO, "
       "and LIME/SHAP explanations checked against the defect masks",
       [](const StudyCommon& common, const EarlierStudies&) {
         AnomalyStudyOptions o;
         o.common = common;
         return run_anomaly_study(o);
       },
       {}},
      {"robustness",
       "Debiasing and hardening on ColouredFashionMNIST: one model per training objective, accuracy, Grad-CAM, and "
       "targeted attacks (minimal ε): is the model that learned shape harder to fool?",
       [](const StudyCommon& common, const EarlierStudies& earlier) {
         RobustnessStudyOptions o;
         o.common = common;
         // The demo's robustness study starts from the bias study's lazy model and control:
         // its quick preset trains them with the same settings and seed.
         if (const auto models = bias_models(earlier)) {
           o.checkpoints["lazy"] = models->first;
           o.checkpoints["control"] = models->second;
         }
         return run_robustness_study(o);
       },
       {}},
      {"probe",
       "Inside the shortcut study's models: class and unit visualisations, top activations with class/colour "
       "entropy, NetDissect colour vs class units, lazy beside control",
       [](const StudyCommon& common, const EarlierStudies& earlier) {
         ProbeStudyOptions o;
         o.common = common;
         // The demo probes the bias study's lazy model and control.
         if (const auto models = bias_models(earlier)) {
           o.lazy = models->first;
           o.control = models->second;
         }
         return run_probe_study(o);
       },
       {}},
  };
  return entries;
}

const StudyEntry& study_entry(const std::string& name) {
  std::vector<std::string> names;
  for (const auto& s : studies()) {
    if (s.name == name) return s;
    names.push_back(s.name);
  }
  fail("study '", name, "': expected one of ", join_names(names));
}

}  // namespace loupe
