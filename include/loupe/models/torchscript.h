// The user's own model, as PyTorch exports it: a TorchScript file (torch.jit.trace or
// torch.jit.script, then torch.jit.save), audited with the same taps as the zoo.
//
// Taps are the module's submodules by their dotted names ("layer4", "features.28").
// Recording one rewrites a copy of the forward graph so that the submodule's output is
// also returned (gradients reach it: it stays in the autograd graph); replacing one
// makes its output a graph input instead. Calls of the module's own methods and of the
// submodules above the tap are inlined first, so that nested submodules are reachable.
// Each rewritten graph is built once and cached.
//
// Documented behaviour:
// - A submodule called more than once in one forward (a ReLU object reused, a shared
//   block) has no single output: tapping it is an error naming the number of calls;
//   tap_names() lists only the submodules called exactly once outside branches and loops.
// - A replaced tap costs one forward up to the tap (to compute what the edit receives)
//   and one forward with the edited value; the graph after the tap still runs the
//   layers before it when a branch (a residual connection) skips the tap.
// - forward_from(tap, activation) needs a graph in which nothing after the tap reads the
//   input image (true of a ResNet's stage outputs, not of a tap inside a residual block).
// - One replaced tap per forward call.
// - In-place operations after a tap (ReLU(inplace=True), `out += identity`) act on a
//   copy, so a recorded activation is what the submodule returned.
// The graphs run without the JIT optimiser (like eager PyTorch: same kernels, same order).
#pragma once

#include <cstdint>
#include <memory>

#include "loupe/core/fs.h"
#include "loupe/models/taps.h"
#include "loupe/models/zoo.h"

namespace loupe {

struct TorchScriptOptions {
  int64_t in_channels = 0;   // 0: the first 4-D weight's input channels
  int64_t num_classes = 0;   // 0: the output width of a probe forward
  int64_t probe_size = 224;  // side of the zero image of the probe forward
};

// True for a file that holds a TorchScript module with a forward method (and is not a
// loupe checkpoint). Never throws: unreadable files are false.
bool is_torchscript_model(const fs::path& path);

// Loads the module on the CPU in eval mode; `spec`, if given, receives arch = the path,
// the input channels and the classes. Errors name the file: missing, not TorchScript, a
// loupe checkpoint, no forward, a probe forward that fails or does not return [1,K]
// logits.
std::shared_ptr<TappedModel> load_torchscript_model(const fs::path& path, ModelSpec* spec = nullptr,
                                                    const TorchScriptOptions& options = {});

}  // namespace loupe
