// Explains one image with Grad-CAM and LIME: explain_image MODEL.pt IMAGE OUT_DIR, where
// MODEL.pt is a TorchScript file (torch.jit.save). For a loupe checkpoint (loupe train),
// set source.checkpoint instead of source.model.
#include <torch/torch.h>

#include <iostream>

#include "loupe/core/colormap.h"
#include "loupe/core/image.h"
#include "loupe/explain/explainer.h"
#include "loupe/models/classifier_source.h"

int main(int argc, char** argv) try {
  if (argc != 4) {
    std::cerr << "usage: explain_image MODEL.pt IMAGE OUT_DIR\n";
    return 2;
  }
  loupe::ClassifierSource source;
  source.model = argv[1];
  auto [model, spec] = loupe::load_classifier(source);  // CPU, eval mode
  const auto image = loupe::read_image(argv[2], static_cast<int>(spec.in_channels));
  std::cout << spec.arch << ": " << spec.num_classes << " classes, " << torch::get_num_threads() << " threads\n";
  loupe::fs::create_directories(argv[3]);
  for (const std::string method : {"gradcam", "lime"}) {
    auto explainer = loupe::make_explainer(method);
    const auto attribution = explainer->explain(*model, image.unsqueeze(0), loupe::top1_logit());
    const auto overlay = loupe::overlay_heatmap(image, attribution.maps[0]);
    loupe::write_png(loupe::fs::path(argv[3]) / (method + ".png"), overlay);
    std::cout << method << ": score " << attribution.scores[0].item<float>() << "\n";
  }
  return 0;
} catch (const std::exception& e) {
  std::cerr << "explain_image: " << e.what() << "\n";
  return 1;
}
