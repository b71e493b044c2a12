#include "loupe/models/torchscript.h"

#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>
#include <torch/csrc/jit/passes/inliner.h>
#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/csrc/jit/serialization/import.h>
#include <torch/torch.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "loupe/core/device.h"
#include "loupe/core/error.h"

namespace loupe {

namespace jit = torch::jit;

namespace {

// The dotted path of a module value (a chain of GetAttr from the graph's `self`):
// "" for self, nullopt for anything else.
std::optional<std::string> script_module_path(jit::Value* v, const jit::Value* self) {
  std::vector<std::string> parts;
  while (v != self) {
    const jit::Node* n = v->node();
    if (n->kind() != c10::prim::GetAttr) return std::nullopt;
    parts.push_back(n->s(c10::attr::name));
    v = n->input(0);
  }
  std::string path;
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) path += (path.empty() ? "" : ".") + *it;
  return path;
}

bool is_enclosing_module(const std::string& outer, const std::string& inner) {
  return outer.empty() || inner.rfind(outer + ".", 0) == 0;
}

struct ScriptCalls {
  std::vector<jit::Node*> exact;   // forward calls of the submodule, anywhere in the graph
  std::vector<jit::Node*> nested;  // of those, the ones inside a branch or loop
  std::vector<jit::Node*> outer;   // top-level calls that contain it (self's methods, its parents)
};

void collect_script_calls(jit::Block* block, const jit::Value* self, const std::string& path, bool top,
                          ScriptCalls& calls) {
  for (jit::Node* n : block->nodes()) {
    for (jit::Block* b : n->blocks()) collect_script_calls(b, self, path, false, calls);
    if (n->kind() != c10::prim::CallMethod) continue;
    const auto p = script_module_path(n->input(0), self);
    if (!p) continue;
    // Any method of the submodule counts as a call of it: torch.jit.trace names a module's
    // second call "forward1", its third "forward2", ...
    if (*p == path) {
      calls.exact.push_back(n);
      if (!top) calls.nested.push_back(n);
    } else if (top && is_enclosing_module(*p, path)) {
      calls.outer.push_back(n);
    }
  }
}

// Makes the output of each named submodule a value of `g`'s top-level block, inlining
// the calls that contain it; returns the values by name, or the reason a name cannot be
// tapped (thrown as an error naming `what`).
std::map<std::string, jit::Value*> expose_taps(jit::Graph& g, const std::vector<std::string>& names,
                                               const std::string& what) {
  std::map<std::string, jit::Value*> found;
  const jit::Value* self = g.inputs().at(0);
  for (bool changed = true; changed;) {
    changed = false;
    for (const auto& name : names) {
      if (found.count(name)) continue;
      ScriptCalls calls;
      collect_script_calls(g.block(), self, name, true, calls);
      if (calls.exact.size() > 1)
        fail(what, ": submodule '", name, "' is called ", calls.exact.size(),
             " times in forward, so it has no single output to tap; tap a submodule called once (for a reused "
             "ReLU, tap the layer before it)");
      if (calls.exact.size() == 1 && calls.nested.empty()) {
        jit::Value* out = calls.exact[0]->output();
        LOUPE_CHECK(out->type()->cast<c10::TensorType>(), what, ": submodule '", name, "' returns ", out->type()->str(),
                    ", not a tensor; tap a submodule that returns one");
        found[name] = out;
        continue;
      }
      if (!calls.nested.empty())
        fail(what, ": submodule '", name, "' is called inside a branch or loop of forward; tap one outside it");
      if (calls.outer.empty())
        fail(what, ": submodule '", name, "' is never called by forward, so it has no output to tap");
      for (jit::Node* call : calls.outer) {
        jit::Value* before = call->output();
        auto* callee = jit::tryToGraphFunction(call);
        LOUPE_CHECK(callee, what, ": cannot look inside the call of '", call->s(c10::attr::name), "'");
        const auto after = jit::inlineCallTo(call, callee, callee->graph().get());
        for (auto& [other, value] : found)
          if (value == before && !after.empty()) value = after[0];
      }
      changed = true;
      break;  // the graph changed: look again from the first name
    }
  }
  return found;
}

// Later uses of `v` read a copy, so that in-place operations downstream (ReLU(inplace),
// `out += identity`) cannot change what a tap returns; gradients still reach `v`.
void shield_from_inplace(jit::Graph& g, jit::Value* v) {
  jit::WithInsertPoint guard(v->node()->next());
  jit::Value* copy = g.insert(c10::aten::clone, {v});
  v->replaceAllUsesAfterNodeWith(copy->node(), copy);
}

std::string join_tap_names(const std::vector<std::string>& names) {
  std::ostringstream out;
  for (size_t i = 0; i < names.size(); ++i) out << (i ? ", " : "") << names[i];
  return out.str();
}

// What one rewritten graph computes: the model's output (or the tap `until`), the
// recorded taps, with the tap `override_tap` (if any) read from an extra input.
struct ScriptPlan {
  std::string until, override_tap;
  std::vector<std::string> records;
  std::string key() const { return until + "|" + override_tap + "|" + join_tap_names(records); }
};

class ScriptedModel : public TappedModel {
 public:
  ScriptedModel(jit::Module module, std::string path) : module_(std::move(module)), path_(std::move(path)) {
    graph_ = module_.get_method("forward").graph()->copy();
    LOUPE_CHECK(graph_->inputs().size() == 2, "TorchScript model ", path_,
                ": forward must take one input (the image batch), it takes ", graph_->inputs().size() - 1);
    // The module's tensors (shared, not copied) under nn::Module names: dots become
    // underscores, made unique.
    std::set<std::string> used;
    auto register_name = [&used](std::string name) {
      std::replace(name.begin(), name.end(), '.', '_');
      while (!used.insert(name).second) name += "_";
      return name;
    };
    // Parameters require gradients, as in PyTorch and the zoo (a traced module may have
    // been saved under no_grad).
    for (const auto& p : module_.named_parameters(/*recurse=*/true))
      register_parameter(register_name(p.name), p.value, /*requires_grad=*/true);
    // Buffers too (BatchNorm statistics), so that a checkpoint of a fine-tuned model holds them.
    for (const auto& b : module_.named_buffers(/*recurse=*/true))
      register_buffer(register_name("buffer_" + b.name), b.value);
    find_taps();
    module_.eval();
    torch::nn::Module::train(false);
  }

  torch::Tensor forward(const torch::Tensor& x, Taps* taps) override { return run_with(x, taps, ""); }

  torch::Tensor forward_until(const std::string& tap, const torch::Tensor& x, Taps* taps) override {
    check_tap(tap);
    return run_with(x, taps, tap);
  }

  torch::Tensor forward_from(const std::string& tap, const torch::Tensor& activation, Taps* taps) override {
    check_tap(tap);
    std::vector<std::string> records;
    if (taps) {
      for (const auto& name : taps->names()) {
        check_tap(name);
        LOUPE_CHECK(!taps->replaces(name), "TorchScript model ", path_, ": forward_from('", tap,
                    "') cannot also replace tap '", name, "'; record it or replace it in forward");
        records.push_back(name);
      }
    }
    const ScriptPlan plan{"", tap, records};
    LOUPE_CHECK(!function(plan).uses_input, "TorchScript model ", path_, ": the layers after '", tap,
                "' also read the input image (a branch skips the tap), so the model cannot run from that tap "
                "alone; choose a tap whose output is all the rest of forward reads (e.g. a ResNet stage)");
    if (!taps) return run(plan, torch::empty({0}), activation)[0];
    return run_recording(plan, torch::empty({0}), activation, *taps);
  }

  std::vector<std::string> tap_names() const override { return taps_; }

  void check_tap(const std::string& name) const override {
    if (std::find(taps_.begin(), taps_.end(), name) != taps_.end()) return;
    if (auto it = untappable_.find(name); it != untappable_.end()) fail(it->second);
    check_tap_name(arch(), name, taps_);
  }

  std::string default_cam_tap() const override {
    LOUPE_CHECK(!default_tap_.empty(), "TorchScript model ", path_,
                ": no submodule called by forward returns a spatial feature map [N,C,h,w] with h*w > 1 on the "
                "probe input; name the layer to explain with --tap");
    return default_tap_;
  }

  std::string arch() const override { return path_; }

  void train(bool on) override {
    module_.train(on);
    torch::nn::Module::train(on);
  }
  void to(torch::Device device, torch::Dtype dtype, bool non_blocking) override {
    module_.to(device, dtype, non_blocking);
  }
  void to(torch::Dtype dtype, bool non_blocking) override { module_.to(dtype, non_blocking); }
  void to(torch::Device device, bool non_blocking) override { module_.to(device, non_blocking); }

  // Chooses the default CAM tap from a probe forward: the last top-level submodule whose
  // output is a spatial map (else the last such submodule at any depth). Returns the
  // model's output on the probe.
  torch::Tensor probe(const torch::Tensor& x) {
    std::vector<std::string> candidates;
    for (const auto& name : taps_)
      if (name.find('.') == std::string::npos) candidates.push_back(name);
    for (const auto& list : {candidates, taps_}) {
      if (list.empty()) continue;
      const auto outs = run({"", "", list}, x, {});
      for (size_t i = list.size(); i-- > 0;) {
        const auto& a = outs[i + 1];
        if (a.dim() == 4 && a.size(2) * a.size(3) > 1) {
          default_tap_ = list[i];
          return outs[0];
        }
      }
    }
    return run({"", "", {}}, x, {})[0];
  }

 private:
  struct Compiled {
    std::unique_ptr<jit::GraphFunction> function;
    bool uses_input = true;
  };

  // Every submodule that can be tapped; the others with the reason.
  void find_taps() {
    for (const auto& m : module_.named_modules()) {
      if (m.name.empty()) continue;
      auto g = graph_->copy();
      try {
        expose_taps(*g, {m.name}, "TorchScript model " + path_);
        taps_.push_back(m.name);
      } catch (const Error& e) {
        untappable_[m.name] = e.what();
      }
    }
  }

  torch::Tensor run_with(const torch::Tensor& x, Taps* taps, const std::string& until) {
    if (!taps) return run({until, "", {}}, x, {})[0];
    std::vector<std::string> records, replaced;
    for (const auto& name : taps->names()) {
      check_tap(name);
      (taps->replaces(name) ? replaced : records).push_back(name);
    }
    LOUPE_CHECK(replaced.size() <= 1, "TorchScript model ", path_, ": one replaced tap per forward call, got ",
                join_tap_names(replaced));
    // Unedited, or edited at the tap the call returns: one pass.
    if (replaced.empty() || replaced[0] == until) {
      const auto out = run_recording({until, "", records}, x, {}, *taps);
      return replaced.empty() ? out : taps->apply(until, out);
    }
    // The edit needs the tap's activation first: a forward up to it.
    const auto& edited_tap = replaced[0];
    const auto edited = taps->apply(edited_tap, run({edited_tap, "", {}}, x, {})[0]);
    return run_recording({until, edited_tap, records}, x, edited, *taps);
  }

  // Runs the plan and hands each recorded tap's tensor to `taps`; returns the output.
  torch::Tensor run_recording(const ScriptPlan& plan, const torch::Tensor& x, const torch::Tensor& override_value,
                              Taps& taps) {
    const auto outs = run(plan, x, override_value);
    for (size_t i = 0; i < plan.records.size(); ++i) taps.apply(plan.records[i], outs[i + 1]);
    return outs[0];
  }

  std::vector<torch::Tensor> run(const ScriptPlan& plan, const torch::Tensor& x, const torch::Tensor& override_value) {
    auto& compiled = function(plan);
    std::vector<c10::IValue> stack{module_._ivalue(), x};
    if (!plan.override_tap.empty()) stack.emplace_back(override_value);
    c10::IValue out;
    {
      jit::GraphOptimizerEnabledGuard plain(false);
      out = (*compiled.function)(std::move(stack));
    }
    std::vector<torch::Tensor> tensors;
    if (out.isTuple()) {
      for (const auto& v : out.toTupleRef().elements()) tensors.push_back(v.toTensor());
    } else {
      LOUPE_CHECK(out.isTensor(), "TorchScript model ", path_, ": forward returned ", out.tagKind(),
                  ", expected a tensor of logits");
      tensors.push_back(out.toTensor());
    }
    return tensors;
  }

  Compiled& function(const ScriptPlan& plan) {
    auto& compiled = cache_[plan.key()];
    if (compiled.function) return compiled;
    auto g = graph_->copy();
    std::vector<std::string> names = plan.records;
    if (!plan.until.empty()) names.push_back(plan.until);
    if (!plan.override_tap.empty()) names.push_back(plan.override_tap);
    auto values = expose_taps(*g, names, "TorchScript model " + path_);
    for (const auto& name : plan.records) shield_from_inplace(*g, values.at(name));
    if (!plan.until.empty()) shield_from_inplace(*g, values.at(plan.until));
    if (!plan.override_tap.empty()) {
      jit::Value* input = g->addInput("override");
      input->setType(c10::TensorType::get());
      jit::Value* replaced = values.at(plan.override_tap);
      jit::WithInsertPoint guard(replaced->node()->next());
      jit::Value* copy = g->insert(c10::aten::clone, {input});
      replaced->replaceAllUsesWith(copy);
    }
    std::vector<jit::Value*> outputs{plan.until.empty() ? g->outputs().at(0) : values.at(plan.until)};
    for (const auto& name : plan.records) outputs.push_back(values.at(name));
    while (!g->outputs().empty()) g->eraseOutput(0);
    if (outputs.size() == 1) {
      g->registerOutput(outputs[0]);
    } else {
      jit::WithInsertPoint guard(g->return_node());
      g->registerOutput(g->insertNode(g->createTuple(outputs))->output());
    }
    jit::Inline(*g);
    jit::EliminateDeadCode(g);
    compiled.uses_input = g->inputs().at(1)->hasUses();
    compiled.function = std::make_unique<jit::GraphFunction>("loupe_tap_" + std::to_string(cache_.size()), g, nullptr);
    return compiled;
  }

  jit::Module module_;
  std::string path_;
  std::shared_ptr<jit::Graph> graph_;
  std::vector<std::string> taps_;
  std::map<std::string, std::string> untappable_;
  std::string default_tap_;
  std::map<std::string, Compiled> cache_;
};

std::optional<jit::Module> try_load_script(const fs::path& path, std::string* why) {
  try {
    return jit::load(path.string(), torch::Device(torch::kCPU));
  } catch (const std::exception& e) {
    if (why) {
      std::string message = e.what();
      *why = message.substr(0, message.find('\n'));
    }
    return std::nullopt;
  }
}

bool is_loupe_checkpoint(const jit::Module& m) { return m.hasattr("loupe_checkpoint"); }

// The TorchScript interpreter's errors end with the Python-style cause ("RuntimeError:
// Given groups=1, weight of size ..."): the last non-empty line, at most 300 characters.
std::string last_error_line(const std::string& message) {
  std::string last;
  size_t start = 0;
  while (start < message.size()) {
    const size_t end = std::min(message.find('\n', start), message.size());
    const auto line = message.substr(start, end - start);
    if (line.find_first_not_of(" \t") != std::string::npos) last = line;
    start = end + 1;
  }
  return last.substr(0, 300);
}

}  // namespace

bool is_torchscript_model(const fs::path& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return false;
  const auto m = try_load_script(path, nullptr);
  return m && !is_loupe_checkpoint(*m) && m->find_method("forward");
}

std::shared_ptr<TappedModel> load_torchscript_model(const fs::path& path, ModelSpec* spec,
                                                    const TorchScriptOptions& options) {
  ensure_initialised();
  const std::string name = path.string();
  std::error_code ec;
  LOUPE_CHECK(fs::is_regular_file(path, ec), "TorchScript model ", name, ": no such file");
  std::string why;
  auto module = try_load_script(path, &why);
  LOUPE_CHECK(module, "TorchScript model ", name, ": not a TorchScript file (torch.jit.save writes one): ", why);
  LOUPE_CHECK(!is_loupe_checkpoint(*module), "TorchScript model ", name,
              ": this is a loupe checkpoint; pass it with --checkpoint");
  LOUPE_CHECK(module->find_method("forward"), "TorchScript model ", name, ": the module has no forward method");
  LOUPE_CHECK(options.probe_size >= 1, "TorchScript model ", name, ": probe size must be >= 1, got ",
              options.probe_size);

  int64_t in_channels = options.in_channels;
  if (in_channels == 0) {
    for (const auto& p : module->named_parameters(true))
      if (p.value.dim() == 4) {
        in_channels = p.value.size(1);
        break;
      }
    LOUPE_CHECK(in_channels > 0, "TorchScript model ", name,
                ": no convolution weight tells the input channels; give them with --in-channels");
  }
  auto model = std::make_shared<ScriptedModel>(std::move(*module), name);
  torch::Tensor logits;
  try {
    torch::NoGradGuard no_grad;
    logits = model->probe(torch::zeros({1, in_channels, options.probe_size, options.probe_size}));
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    fail("TorchScript model ", name, ": a probe forward of a zero image [1,", in_channels, ",", options.probe_size, ",",
         options.probe_size, "] failed (", last_error_line(e.what()),
         "); give the input channels and size with --in-channels and --size");
  }
  LOUPE_CHECK(logits.dim() == 2 && logits.size(0) == 1, "TorchScript model ", name,
              ": forward must return logits [N,K], it returned ", logits.sizes());
  const int64_t classes = logits.size(1);
  LOUPE_CHECK(options.num_classes == 0 || options.num_classes == classes, "TorchScript model ", name, ": returns ",
              classes, " logits, but ", options.num_classes, " classes were given");
  LOUPE_CHECK(classes >= 2, "TorchScript model ", name, ": returns ", classes, " logit(s); expected >= 2 classes");
  if (spec) *spec = ModelSpec{name, in_channels, classes};
  return model;
}

}  // namespace loupe
