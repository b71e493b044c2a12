// A checkpoint is one TorchScript-style archive (the format of torch::save): the
// model's parameters and buffers under "model", the optimiser's state under
// "optimizer", and the spec, step and extras as plain values beside them.
#include "loupe/models/checkpoint.h"

#include <torch/optim.h>
#include <torch/serialize.h>
#include <torch/torch.h>

#include <sstream>

#include "loupe/core/error.h"
#include "models/checkpoint_detail.h"

namespace loupe {
namespace {

using detail::device_of;
using detail::first_line;

constexpr int64_t kFormatVersion = 1;

std::string describe(const ModelSpec& spec) {
  std::ostringstream os;
  os << spec.arch << " (" << spec.in_channels << (spec.in_channels == 1 ? " channel, " : " channels, ")
     << spec.num_classes << " classes)";
  return os.str();
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

// c10::Error messages carry a C++ backtrace; the first line is the part a user can act on.
torch::serialize::InputArchive open_archive(const fs::path& path, torch::Device device) {
  std::error_code ec;
  LOUPE_CHECK(fs::exists(path, ec), "checkpoint ", path.string(),
              ": file not found (expected a checkpoint written by loupe train)");
  const std::string bytes = read_file(path);
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(bytes.data(), bytes.size(), device);
  } catch (const c10::Error& e) {
    fail("checkpoint ", path.string(), ": not a readable loupe checkpoint (truncated or corrupt? ", first_line(e), ")");
  }
  return archive;
}

c10::IValue read_value(torch::serialize::InputArchive& archive, const fs::path& path, const std::string& key) {
  c10::IValue value;
  LOUPE_CHECK(archive.try_read(key, value), "checkpoint ", path.string(), ": not a loupe checkpoint (no '", key,
              "' entry; expected a file written by loupe train)");
  return value;
}

int64_t read_int(torch::serialize::InputArchive& archive, const fs::path& path, const std::string& key) {
  const auto value = read_value(archive, path, key);
  LOUPE_CHECK(value.isInt(), "checkpoint ", path.string(), ": entry '", key, "' should be an integer, found ",
              value.tagKind());
  return value.toInt();
}

std::string read_string(torch::serialize::InputArchive& archive, const fs::path& path, const std::string& key) {
  const auto value = read_value(archive, path, key);
  LOUPE_CHECK(value.isString(), "checkpoint ", path.string(), ": entry '", key, "' should be a string, found ",
              value.tagKind());
  return value.toStringRef();
}

CheckpointInfo read_info(torch::serialize::InputArchive& archive, const fs::path& path) {
  const int64_t version = read_int(archive, path, "loupe_checkpoint");
  LOUPE_CHECK(version == kFormatVersion, "checkpoint ", path.string(), ": format version ", version,
              " is not supported by this loupe (expected ", kFormatVersion, ")");
  CheckpointInfo info;
  info.spec.arch = read_string(archive, path, "arch");
  info.spec.in_channels = read_int(archive, path, "in_channels");
  info.spec.num_classes = read_int(archive, path, "num_classes");
  info.step = read_int(archive, path, "step");
  info.extra_json = read_string(archive, path, "extra_json");
  return info;
}

bool same_spec(const ModelSpec& a, const ModelSpec& b) {
  return a.arch == b.arch && a.in_channels == b.in_channels && a.num_classes == b.num_classes;
}

// Everything that can be refused is checked before anything is loaded, so a refused
// checkpoint leaves the model and optimiser as they were.
CheckpointInfo load_into(torch::serialize::InputArchive& archive, const fs::path& path, TappedModel& model,
                         const ModelSpec& spec, torch::optim::Optimizer* optimizer) {
  CheckpointInfo info = read_info(archive, path);
  LOUPE_CHECK(same_spec(info.spec, spec), "checkpoint ", path.string(), " holds a ", describe(info.spec),
              "; expected a ", describe(spec));
  torch::serialize::InputArchive optimizer_archive;
  const bool has_optimizer = optimizer && archive.try_read("optimizer", optimizer_archive);
  if (has_optimizer) {
    const std::string stored = read_string(archive, path, "optimizer_kind"), wanted = optimizer_kind(*optimizer);
    LOUPE_CHECK(stored == wanted, "checkpoint ", path.string(), " holds the state of a ", stored,
                " optimiser; cannot resume a ", wanted, " optimiser from it (train again, or resume with ", stored,
                ")");
  }
  torch::serialize::InputArchive model_archive;
  LOUPE_CHECK(archive.try_read("model", model_archive), "checkpoint ", path.string(),
              ": not a loupe checkpoint (no model state)");

  try {
    model.load(model_archive);
  } catch (const c10::Error& e) {
    fail("checkpoint ", path.string(), ": its model state does not fit a ", describe(spec), " (", first_line(e), ")");
  }
  if (has_optimizer) {
    try {
      optimizer->load(optimizer_archive);
    } catch (const c10::Error& e) {
      fail("checkpoint ", path.string(), ": its optimiser state does not fit this ", describe(spec), " (",
           first_line(e), ")");
    }
  }
  return info;
}

}  // namespace

void save_checkpoint(const fs::path& path, TappedModel& model, const ModelSpec& spec,
                     torch::optim::Optimizer* optimizer, int64_t step, const std::string& extra_json) {
  LOUPE_CHECK(model.arch() == spec.arch, "save_checkpoint ", path.string(), ": the model is a ", model.arch(),
              " but its spec says ", spec.arch);
  torch::serialize::OutputArchive archive;
  archive.write("loupe_checkpoint", c10::IValue(kFormatVersion));
  archive.write("arch", c10::IValue(spec.arch));
  archive.write("in_channels", c10::IValue(spec.in_channels));
  archive.write("num_classes", c10::IValue(spec.num_classes));
  archive.write("step", c10::IValue(step));
  archive.write("extra_json", c10::IValue(extra_json));

  torch::serialize::OutputArchive model_archive(archive.compilation_unit());
  model.save(model_archive);
  archive.write("model", model_archive);
  if (optimizer) {
    torch::serialize::OutputArchive optimizer_archive(archive.compilation_unit());
    optimizer->save(optimizer_archive);
    archive.write("optimizer", optimizer_archive);
    archive.write("optimizer_kind", c10::IValue(optimizer_kind(*optimizer)));
  }

  // Serialised in memory first so that the file on disk is only ever complete.
  std::ostringstream bytes;
  archive.save_to(bytes);
  write_file_atomic(path, bytes.str());
}

CheckpointInfo read_checkpoint_info(const fs::path& path) {
  auto archive = open_archive(path, torch::kCPU);
  return read_info(archive, path);
}

CheckpointInfo load_checkpoint(const fs::path& path, TappedModel& model, const ModelSpec& spec,
                               torch::optim::Optimizer* optimizer) {
  auto archive = open_archive(path, device_of(model));
  return load_into(archive, path, model, spec, optimizer);
}

std::shared_ptr<TappedModel> load_model(const fs::path& path, CheckpointInfo* info) {
  auto archive = open_archive(path, torch::kCPU);
  const CheckpointInfo header = read_info(archive, path);
  std::shared_ptr<TappedModel> model;
  try {
    model = make_model(header.spec);
  } catch (const Error& e) {
    fail("checkpoint ", path.string(), ": ", e.what());
  }
  const CheckpointInfo loaded = load_into(archive, path, *model, header.spec, nullptr);
  if (info) *info = loaded;
  return model;
}

}  // namespace loupe
