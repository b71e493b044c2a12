#include "loupe/models/classifier_source.h"

#include <algorithm>

#include "loupe/core/device.h"
#include "loupe/core/error.h"
#include "loupe/models/checkpoint.h"
#include "loupe/models/torchscript.h"

namespace loupe {

bool is_zoo_model(const std::string& name) {
  const auto names = model_names();
  return std::find(names.begin(), names.end(), name) != names.end();
}

LoadedClassifier load_classifier(const ClassifierSource& s) {
  ensure_initialised();
  LoadedClassifier out;
  if (!s.checkpoint.empty()) {
    LOUPE_CHECK(s.model.empty() && s.weights.empty(), "--checkpoint ", s.checkpoint.string(),
                ": give either --checkpoint or --model, not both");
    CheckpointInfo info;
    try {
      out.model = load_model(s.checkpoint, &info);
    } catch (const std::exception&) {
      // Only a file that is not a checkpoint is read a second time, to say what it is.
      LOUPE_CHECK(!is_torchscript_model(s.checkpoint), "--checkpoint ", s.checkpoint.string(),
                  ": this is a TorchScript model, not a loupe checkpoint; pass it with --model");
      throw;
    }
    out.spec = classifier_spec(info, s.checkpoint);
  } else {
    const std::string zoo = join_names(model_names());
    LOUPE_CHECK(!s.model.empty(),
                "no model given: use --checkpoint FILE (loupe train), --model ARCH --weights "
                "FILE.safetensors (ARCH: ",
                zoo, ") or --model FILE.pt (TorchScript)");
    if (is_zoo_model(s.model)) {
      out.spec = ModelSpec{s.model, s.in_channels ? s.in_channels : 3, s.num_classes ? s.num_classes : 1000};
      LOUPE_CHECK(!s.weights.empty(), "--model ", s.model, ": give its weights with --weights FILE.safetensors");
      out.model = make_model(out.spec);
      load_torchvision_weights(*out.model, s.weights);
    } else {
      std::error_code ec;
      LOUPE_CHECK(fs::is_regular_file(s.model, ec), "--model ", s.model, ": neither a zoo architecture (", zoo,
                  ") nor an existing TorchScript file");
      LOUPE_CHECK(s.weights.empty(), "--weights ", s.weights.string(), ": a TorchScript model (--model ", s.model,
                  ") holds its own weights; drop --weights");
      out.model = load_torchscript_model(s.model, &out.spec, {s.in_channels, s.num_classes, s.probe_size});
    }
  }
  out.model->eval();
  return out;
}

}  // namespace loupe
