#include "loupe/studies/study.h"

#include "loupe/core/error.h"
#include "loupe/studies/bias.h"
#include "loupe/studies/disentangle.h"

namespace loupe {

void check_preset(const std::string& preset) {
  LOUPE_CHECK(preset == "quick" || preset == "paper", "--preset ", preset, ": expected quick or paper");
}

const std::vector<StudyEntry>& studies() {
  static const std::vector<StudyEntry> entries = {
      {"bias", "Shortcut learning on ColouredFashionMNIST: a lazy model that learns colour vs a grayscale control",
       [](const StudyCommon& common) {
         BiasStudyOptions o;
         o.common = common;
         return run_bias_study(o);
       }},
      {"disentangle",
       "Disentanglement on procedural Shapes3D: a beta-TCVAE, MIG/DCI/SAP/SSIM, latent x factor MI, traversals",
       [](const StudyCommon& common) {
         DisentangleStudyOptions o;
         o.common = common;
         return run_disentangle_study(o);
       }},
  };
  return entries;
}

}  // namespace loupe
