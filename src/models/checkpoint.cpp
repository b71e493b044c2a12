// A checkpoint is one torch::save-format archive: the header values ("loupe_checkpoint"
// = format, "step", "epoch", "history_json", "extra_json", and the JSON lists
// "modules_json" [{name, spec}] and "optimizers_json" [{name, kind}]), then one
// sub-archive per module ("module_<name>") and per optimiser ("optimizer_<name>").
#include "loupe/models/checkpoint.h"

#include <torch/optim.h>
#include <torch/serialize.h>
#include <torch/torch.h>

#include <cctype>
#include <nlohmann/json.hpp>
#include <sstream>

#include "loupe/core/device.h"
#include "loupe/core/error.h"

namespace loupe {
namespace {

using json = nlohmann::json;
constexpr int64_t kFormat = 2;

// Error text from a corrupt file can hold raw bytes: keep the first line, printable only.
std::string readable_reason(const std::exception& e) {
  const auto* c10 = dynamic_cast<const c10::Error*>(&e);
  std::string msg = c10 ? c10->what_without_backtrace() : e.what();
  if (auto nl = msg.find('\n'); nl != std::string::npos) msg.resize(nl);
  std::string out;
  for (unsigned char ch : msg) out += std::isprint(ch) ? static_cast<char>(ch) : '?';
  if (out.size() > 200) out = out.substr(0, 200) + "...";
  return out;
}

// The optimiser's class, so that resuming SGD from Adam's moments is refused by name.
std::string optimizer_kind(const torch::optim::Optimizer& optimizer) {
  namespace o = torch::optim;
  if (dynamic_cast<const o::AdamW*>(&optimizer)) return "adamw";
  if (dynamic_cast<const o::Adam*>(&optimizer)) return "adam";
  if (dynamic_cast<const o::SGD*>(&optimizer)) return "sgd";
  if (dynamic_cast<const o::RMSprop*>(&optimizer)) return "rmsprop";
  if (dynamic_cast<const o::Adagrad*>(&optimizer)) return "adagrad";
  if (dynamic_cast<const o::LBFGS*>(&optimizer)) return "lbfgs";
  return "other";
}

// The device of a module's first parameter (or buffer); CPU for an empty module.
torch::Device module_device(const torch::nn::Module& module) {
  for (const auto& p : module.parameters()) return p.device();
  for (const auto& b : module.buffers()) return b.device();
  return torch::kCPU;
}

bool valid_entry_name(const std::string& name) {
  if (name.empty()) return false;
  for (unsigned char ch : name)
    if (!(std::islower(ch) || std::isdigit(ch) || ch == '_')) return false;
  return true;
}

json parse_spec(const std::string& text, const std::string& what) {
  json spec;
  try {
    spec = json::parse(text);
  } catch (const json::exception& e) {
    fail(what, ": the architecture spec is not valid JSON (", e.what(), ")");
  }
  LOUPE_CHECK(spec.is_object() && spec.contains("arch") && spec.at("arch").is_string(), what,
              ": the architecture spec should be a JSON object with an \"arch\" name, found ", spec.dump());
  return spec;
}

// "small_cnn (in_channels 1, num_classes 4)", for messages.
std::string describe_spec(const json& spec) {
  std::string out = spec.at("arch").get<std::string>(), details;
  for (const auto& [key, value] : spec.items()) {
    if (key == "arch") continue;
    details +=
        (details.empty() ? "" : ", ") + key + " " + (value.is_string() ? value.get<std::string>() : value.dump());
  }
  return details.empty() ? out : out + " (" + details + ")";
}

// Reads a checkpoint file: the header on construction, modules and optimisers on demand.
class CheckpointReader {
 public:
  CheckpointReader(const fs::path& path, torch::Device device) : path_(path) {
    std::error_code ec;
    LOUPE_CHECK(fs::is_regular_file(path, ec), "checkpoint ", where(),
                ": file not found (expected a checkpoint written by loupe train)");
    const std::string bytes = read_file(path);
    try {
      archive_.load_from(bytes.data(), bytes.size(), device);
      info_ = read_header();
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      fail("checkpoint ", where(), ": not a readable loupe checkpoint (truncated or corrupt? ", readable_reason(e),
           ")");
    }
  }

  const CheckpointInfo& info() const { return info_; }

  // Every refusal happens before anything is loaded; weights that are not finite are
  // refused after loading, and the modules restored.
  void load(const std::vector<CheckpointModule>& modules, const std::vector<CheckpointOptimizer>& optimizers) {
    for (const auto& m : modules) {
      LOUPE_CHECK(m.module != nullptr, "checkpoint ", where(), ": module '", m.name, "' is null");
      const auto it = info_.specs.find(m.name);
      LOUPE_CHECK(it != info_.specs.end(), "checkpoint ", where(), " holds no module '", m.name, "' (it holds ",
                  join_names(names(info_.specs)), ")");
      const json stored = parse_spec(it->second, "checkpoint " + where());
      const json wanted = parse_spec(m.spec_json, "module '" + m.name + "'");
      LOUPE_CHECK(stored == wanted, "checkpoint ", where(), " holds a ", describe_spec(stored), "; expected a ",
                  describe_spec(wanted));
    }
    std::vector<const CheckpointOptimizer*> stored_optimizers;
    for (const auto& o : optimizers) {
      const auto it = info_.optimizers.find(o.name);
      if (it == info_.optimizers.end()) continue;
      const std::string wanted = optimizer_kind(*o.optimizer);
      LOUPE_CHECK(it->second == wanted, "checkpoint ", where(), " holds the state of a ", it->second,
                  " optimiser; cannot resume a ", wanted, " optimiser from it (train again, or resume with ",
                  it->second, ")");
      stored_optimizers.push_back(&o);
    }
    std::vector<std::pair<const CheckpointModule*, torch::serialize::InputArchive>> module_archives;
    for (const auto& m : modules) {
      torch::serialize::InputArchive a;
      LOUPE_CHECK(read_archive(module_key(m.name), a), "checkpoint ", where(), ": no state for module '", m.name,
                  "' (truncated or corrupt?)");
      module_archives.emplace_back(&m, std::move(a));
    }
    for (auto& [m, archive] : module_archives) load_module(*m, archive);
    for (const auto* o : stored_optimizers) {
      torch::serialize::InputArchive a;
      LOUPE_CHECK(read_archive(optimizer_key(o->name), a), "checkpoint ", where(), ": no state for optimiser '",
                  o->name, "' (truncated or corrupt?)");
      try {
        o->optimizer->load(a);
      } catch (const std::exception& e) {
        fail("checkpoint ", where(), ": its optimiser state '", o->name, "' does not fit these parameters (",
             readable_reason(e), ")");
      }
    }
  }

 private:
  std::string where() const { return path_.string(); }

  static std::vector<std::string> names(const std::map<std::string, std::string>& m) {
    std::vector<std::string> out;
    for (const auto& [k, v] : m) out.push_back(k);
    return out;
  }

  c10::IValue value(const std::string& key) {
    c10::IValue v;
    LOUPE_CHECK(archive_.try_read(key, v), "checkpoint ", where(), ": not a loupe checkpoint (no '", key,
                "' entry; expected a file written by loupe train)");
    return v;
  }
  int64_t integer(const std::string& key) {
    const auto v = value(key);
    LOUPE_CHECK(v.isInt(), "checkpoint ", where(), ": entry '", key, "' should be an integer, found ", v.tagKind());
    return v.toInt();
  }
  std::string text(const std::string& key) {
    const auto v = value(key);
    LOUPE_CHECK(v.isString(), "checkpoint ", where(), ": entry '", key, "' should be a string, found ", v.tagKind());
    return v.toStringRef();
  }
  bool read_archive(const std::string& key, torch::serialize::InputArchive& out) {
    try {
      return archive_.try_read(key, out);
    } catch (const std::exception& e) {
      fail("checkpoint ", where(), ": entry '", key, "' is unreadable (", readable_reason(e), ")");
    }
  }

  std::string module_key(const std::string& name) const { return format1_ ? "model" : "module_" + name; }
  std::string optimizer_key(const std::string& name) const { return format1_ ? "optimizer" : "optimizer_" + name; }

  CheckpointInfo read_header() {
    CheckpointInfo info;
    info.format = integer("loupe_checkpoint");
    if (info.format == 1) return read_format1_header(info);
    LOUPE_CHECK(info.format == kFormat, "checkpoint ", where(), ": format version ", info.format,
                " is not supported by this loupe (expected 1 or ", kFormat, ")");
    info.state.step = integer("step");
    info.state.epoch = integer("epoch");
    info.state.history_json = text("history_json");
    info.state.extra_json = text("extra_json");
    const json modules = parse_list("modules_json"), optimizers = parse_list("optimizers_json");
    for (const auto& m : modules) {
      LOUPE_CHECK(m.is_object() && m.contains("name") && m.at("name").is_string() && m.contains("spec"), "checkpoint ",
                  where(), ": a module entry should be {name, spec}, found ", m.dump());
      info.specs[m.at("name").get<std::string>()] = m.at("spec").dump();
    }
    for (const auto& o : optimizers) {
      LOUPE_CHECK(o.is_object() && o.contains("name") && o.at("name").is_string() && o.contains("kind") &&
                      o.at("kind").is_string(),
                  "checkpoint ", where(), ": an optimiser entry should be {name, kind}, found ", o.dump());
      info.optimizers[o.at("name").get<std::string>()] = o.at("kind").get<std::string>();
    }
    return info;
  }

  json parse_list(const std::string& key) {
    json list;
    try {
      list = json::parse(text(key));
    } catch (const json::exception& e) {
      fail("checkpoint ", where(), ": entry '", key, "' is not valid JSON (", e.what(), ")");
    }
    LOUPE_CHECK(list.is_array(), "checkpoint ", where(), ": entry '", key, "' should be a JSON array");
    return list;
  }

  // Format 1 held one classifier (step = epochs) or one VAE (step = steps), the
  // history in extra_json, the state under "model" and "optimizer".
  CheckpointInfo read_format1_header(CheckpointInfo& info) {
    format1_ = true;
    const std::string arch = text("arch");
    const int64_t step = integer("step");
    const std::string extra = text("extra_json");
    torch::serialize::InputArchive optimizer_state;
    const bool has_optimizer = read_archive("optimizer", optimizer_state);
    if (arch == "vae_conv64") {
      const VaeSpec spec = VaeSpec()
                               .set_channels(integer("in_channels"))
                               .set_latents(integer("latents"))
                               .set_likelihood(parse_likelihood(text("likelihood")));
      info.specs[kVaeModule] = spec_json(spec);
      if (has_optimizer) info.optimizers[kVaeModule] = "adam";  // format-1 VAEs were always trained with Adam
      info.state.step = step;
      info.state.history_json = extra;
    } else {
      const ModelSpec spec{arch, integer("in_channels"), integer("num_classes")};
      info.specs[kClassifierModule] = spec_json(spec);
      if (has_optimizer) info.optimizers[kClassifierModule] = text("optimizer_kind");
      info.state.epoch = step;
      info.resumable = false;  // its step count is unknown
    }
    return info;
  }

  void load_module(const CheckpointModule& m, torch::serialize::InputArchive& archive) {
    std::vector<torch::Tensor> before;
    {
      torch::NoGradGuard no_grad;
      for (const auto& p : m.module->parameters()) before.push_back(p.detach().clone());
      for (const auto& b : m.module->buffers()) before.push_back(b.detach().clone());
    }
    try {
      m.module->load(archive);
    } catch (const std::exception& e) {
      restore(*m.module, before);
      fail("checkpoint ", where(), ": its state of module '", m.name, "' does not fit a ",
           describe_spec(parse_spec(m.spec_json, m.name)), " (", readable_reason(e), ")");
    }
    auto check = [&](const std::string& name, const torch::Tensor& t) {
      if (!t.is_floating_point() || torch::isfinite(t).all().item<bool>()) return;
      restore(*m.module, before);
      fail("checkpoint ", where(), ": tensor '", name, "' of module '", m.name,
           "' holds NaN or infinite values (the run that wrote it diverged); train again or use an earlier "
           "checkpoint");
    };
    for (const auto& p : m.module->named_parameters()) check(p.key(), p.value());
    for (const auto& b : m.module->named_buffers()) check(b.key(), b.value());
  }

  static void restore(torch::nn::Module& module, const std::vector<torch::Tensor>& before) {
    torch::NoGradGuard no_grad;
    size_t i = 0;
    for (auto& p : module.parameters()) p.copy_(before[i++]);
    for (auto& b : module.buffers()) b.copy_(before[i++]);
  }

  fs::path path_;
  torch::serialize::InputArchive archive_;
  CheckpointInfo info_;
  bool format1_ = false;
};

}  // namespace

void save_checkpoint(const fs::path& path, const std::vector<CheckpointModule>& modules,
                     const std::vector<CheckpointOptimizer>& optimizers, const TrainingState& state) {
  LOUPE_CHECK(!modules.empty(), "save_checkpoint ", path.string(), ": expected at least one module");
  torch::serialize::OutputArchive archive;
  json module_list = json::array(), optimizer_list = json::array();
  for (const auto& m : modules) {
    LOUPE_CHECK(valid_entry_name(m.name) && m.module, "save_checkpoint ", path.string(), ": module name '", m.name,
                "' should be [a-z0-9_]+ with a module");
    module_list.push_back({{"name", m.name}, {"spec", parse_spec(m.spec_json, "module '" + m.name + "'")}});
  }
  for (const auto& o : optimizers) {
    LOUPE_CHECK(valid_entry_name(o.name) && o.optimizer, "save_checkpoint ", path.string(), ": optimiser name '",
                o.name, "' should be [a-z0-9_]+ with an optimiser");
    optimizer_list.push_back({{"name", o.name}, {"kind", optimizer_kind(*o.optimizer)}});
  }
  archive.write("loupe_checkpoint", c10::IValue(kFormat));
  archive.write("step", c10::IValue(state.step));
  archive.write("epoch", c10::IValue(state.epoch));
  archive.write("history_json", c10::IValue(state.history_json));
  archive.write("extra_json", c10::IValue(state.extra_json));
  archive.write("modules_json", c10::IValue(module_list.dump()));
  archive.write("optimizers_json", c10::IValue(optimizer_list.dump()));
  for (const auto& m : modules) {
    torch::serialize::OutputArchive sub(archive.compilation_unit());
    m.module->save(sub);
    archive.write("module_" + m.name, sub);
  }
  for (const auto& o : optimizers) {
    torch::serialize::OutputArchive sub(archive.compilation_unit());
    o.optimizer->save(sub);
    archive.write("optimizer_" + o.name, sub);
  }
  // Serialised in memory first so that the file on disk is only ever complete.
  std::ostringstream bytes;
  archive.save_to(bytes);
  write_file_atomic(path, bytes.str());
}

CheckpointInfo read_checkpoint_info(const fs::path& path) { return CheckpointReader(path, torch::kCPU).info(); }

CheckpointInfo load_checkpoint(const fs::path& path, const std::vector<CheckpointModule>& modules,
                               const std::vector<CheckpointOptimizer>& optimizers) {
  const torch::Device device =
      modules.empty() || !modules.front().module ? torch::Device(torch::kCPU) : module_device(*modules.front().module);
  CheckpointReader reader(path, device);
  reader.load(modules, optimizers);
  return reader.info();
}

std::string spec_json(const ModelSpec& spec) {
  json out{{"arch", spec.arch}, {"in_channels", spec.in_channels}, {"num_classes", spec.num_classes}};
  if (spec.input_size) out["input_size"] = spec.input_size;  // TorchScript models only
  return out.dump();
}

std::string spec_json(const VaeSpec& spec) {
  return json{{"arch", "vae_conv64"},
              {"channels", spec.channels},
              {"latents", spec.latents},
              {"likelihood", likelihood_name(spec.likelihood)}}
      .dump();
}

namespace {

int64_t spec_integer(const json& spec, const char* key, const std::string& what) {
  LOUPE_CHECK(spec.contains(key) && spec.at(key).is_number_integer(), what, ": the architecture spec ", spec.dump(),
              " has no integer '", key, "'");
  return spec.at(key).get<int64_t>();
}

}  // namespace

// Bounds on what a file may claim, so that a corrupt header cannot ask for a huge model.
constexpr int64_t kMaxClasses = 1000000, kMaxLatents = 65536;

ModelSpec model_spec_from_json(const std::string& text, const std::string& what) {
  const json spec = parse_spec(text, what);
  const ModelSpec out{spec.at("arch").get<std::string>(), spec_integer(spec, "in_channels", what),
                      spec_integer(spec, "num_classes", what),
                      spec.contains("input_size") ? spec_integer(spec, "input_size", what) : 0};
  LOUPE_CHECK(out.num_classes >= 2 && out.num_classes <= kMaxClasses, what, ": num_classes ", out.num_classes,
              "; expected 2 to ", kMaxClasses, " (corrupt file?)");
  return out;
}

VaeSpec vae_spec_from_json(const std::string& text, const std::string& what) {
  const json spec = parse_spec(text, what);
  LOUPE_CHECK(spec.at("arch") == "vae_conv64", what, " holds a ", describe_spec(spec), "; expected a vae_conv64 VAE");
  LOUPE_CHECK(spec.contains("likelihood") && spec.at("likelihood").is_string(), what, ": the architecture spec ",
              spec.dump(), " has no 'likelihood'");
  const int64_t latents = spec_integer(spec, "latents", what);
  LOUPE_CHECK(latents >= 1 && latents <= kMaxLatents, what, ": latents ", latents, "; expected 1 to ", kMaxLatents,
              " (corrupt file?)");
  return VaeSpec()
      .set_channels(spec_integer(spec, "channels", what))
      .set_latents(spec_integer(spec, "latents", what))
      .set_likelihood(parse_likelihood(spec.at("likelihood").get<std::string>()));
}

std::string spec_json(const VaeGanSpec& spec) {
  return json{{"arch", "vaegan_conv"},
              {"kind", reconstruction_kind_name(spec.kind)},
              {"channels", spec.channels},
              {"size", spec.size},
              {"latents", spec.latents}}
      .dump();
}

std::string discriminator_spec_json(const VaeGanSpec& spec) {
  return json{{"arch", "vaegan_discriminator"}, {"channels", spec.channels}, {"size", spec.size}}.dump();
}

VaeGanSpec vaegan_spec_from_json(const std::string& text, const std::string& what) {
  const json spec = parse_spec(text, what);
  LOUPE_CHECK(spec.at("arch") == "vaegan_conv", what, " holds a ", describe_spec(spec),
              "; expected a vaegan_conv reconstruction model");
  LOUPE_CHECK(spec.contains("kind") && spec.at("kind").is_string(), what, ": the architecture spec ", spec.dump(),
              " has no 'kind'");
  VaeGanSpec out;
  out.kind = parse_reconstruction_kind(spec.at("kind").get<std::string>());
  out.channels = spec_integer(spec, "channels", what);
  out.size = spec_integer(spec, "size", what);
  out.latents = spec_integer(spec, "latents", what);
  try {
    check_spec(out);
  } catch (const Error& e) {
    fail(what, ": ", e.what(), " (corrupt file?)");
  }
  return out;
}

namespace {

// The spec of the module `name` in a checkpoint whose header is `info`.
const std::string& stored_spec(const CheckpointInfo& info, const fs::path& path, const char* name,
                               const char* expected) {
  const auto it = info.specs.find(name);
  if (it != info.specs.end()) return it->second;
  std::string held;
  for (const auto& [k, spec] : info.specs) held += (held.empty() ? "" : ", ") + describe_spec(json::parse(spec));
  fail("checkpoint ", path.string(), " holds ", held.empty() ? "no module" : held, "; expected ", expected);
}

}  // namespace

ModelSpec classifier_spec(const CheckpointInfo& info, const fs::path& path) {
  return model_spec_from_json(stored_spec(info, path, kClassifierModule, "a classifier from loupe train"),
                              "checkpoint " + path.string());
}

std::shared_ptr<TappedModel> load_model(const fs::path& path, CheckpointInfo* info) {
  ensure_initialised();
  CheckpointReader reader(path, torch::kCPU);
  const std::string what = "checkpoint " + path.string();
  const ModelSpec spec = classifier_spec(reader.info(), path);
  std::shared_ptr<TappedModel> model;
  try {
    model = make_model(spec);
  } catch (const Error& e) {
    fail(what, ": ", e.what());
  }
  reader.load({{kClassifierModule, model.get(), spec_json(spec)}}, {});
  if (info) *info = reader.info();
  return model;
}

Vae load_vae(const fs::path& path, CheckpointInfo* info) {
  ensure_initialised();
  CheckpointReader reader(path, torch::kCPU);
  const std::string what = "checkpoint " + path.string();
  const std::string& text = stored_spec(reader.info(), path, kVaeModule, "a vae_conv64 VAE");
  const VaeSpec spec = vae_spec_from_json(text, what);
  Vae vae(spec);
  reader.load({{kVaeModule, vae.get(), spec_json(spec)}}, {});
  if (info) *info = reader.info();
  return vae;
}

VaeGan load_vaegan(const fs::path& path, CheckpointInfo* info) {
  CheckpointReader reader(path, torch::kCPU);
  const std::string& text =
      stored_spec(reader.info(), path, kAutoencoderModule, "a reconstruction model from loupe study anomaly");
  const VaeGanSpec spec = vaegan_spec_from_json(text, "checkpoint " + path.string());
  VaeGan model(spec);
  reader.load({{kAutoencoderModule, model.get(), spec_json(spec)}}, {});
  model->eval();  // batch norm with its running statistics: one image scores alone
  if (info) *info = reader.info();
  return model;
}

}  // namespace loupe
