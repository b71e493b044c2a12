// Same archive layout as models/checkpoint.cpp (torch::save format, plain header values
// beside "model" and "optimizer"), with arch "vae_conv64" and the VaeSpec fields.
#include "loupe/models/vae_checkpoint.h"

#include <torch/serialize.h>
#include <torch/torch.h>

#include <sstream>

#include "loupe/core/error.h"
#include "models/checkpoint_detail.h"

namespace loupe {
namespace {

using detail::device_of;
using detail::first_line;

constexpr int64_t kVaeFormatVersion = 1;
const char* const kArch = "vae_conv64";

class Reader {
 public:
  Reader(const fs::path& path, torch::Device device) : path_(path) {
    std::error_code ec;
    LOUPE_CHECK(fs::exists(path, ec), "VAE checkpoint ", path.string(), ": file not found");
    const std::string bytes = read_file(path);
    try {
      archive_.load_from(bytes.data(), bytes.size(), device);
    } catch (const c10::Error& e) {
      fail("VAE checkpoint ", path.string(), ": not a readable loupe checkpoint (truncated or corrupt? ", first_line(e),
           ")");
    }
  }

  c10::IValue value(const std::string& key) {
    c10::IValue v;
    LOUPE_CHECK(archive_.try_read(key, v), "VAE checkpoint ", path_.string(), ": no '", key,
                "' entry (expected a file written by save_vae_checkpoint)");
    return v;
  }
  int64_t integer(const std::string& key) {
    const auto v = value(key);
    LOUPE_CHECK(v.isInt(), "VAE checkpoint ", path_.string(), ": entry '", key, "' should be an integer");
    return v.toInt();
  }
  std::string text(const std::string& key) {
    const auto v = value(key);
    LOUPE_CHECK(v.isString(), "VAE checkpoint ", path_.string(), ": entry '", key, "' should be a string");
    return v.toStringRef();
  }

  VaeCheckpointInfo info() {
    const int64_t version = integer("loupe_checkpoint");
    LOUPE_CHECK(version == kVaeFormatVersion, "VAE checkpoint ", path_.string(), ": format version ", version,
                " is not supported (expected ", kVaeFormatVersion, ")");
    const std::string arch = text("arch");
    LOUPE_CHECK(arch == kArch, "VAE checkpoint ", path_.string(), " holds a ", arch, " model; expected a ", kArch,
                " VAE");
    VaeCheckpointInfo info;
    info.spec.channels = integer("in_channels");
    info.spec.latents = integer("latents");
    info.spec.likelihood = parse_likelihood(text("likelihood"));
    info.step = integer("step");
    info.extra_json = text("extra_json");
    return info;
  }

  // Every refusal happens before anything is loaded.
  VaeCheckpointInfo load_into(VaeImpl& vae, torch::optim::Optimizer* optimizer) {
    const VaeCheckpointInfo stored = info();
    LOUPE_CHECK(stored.spec == vae.spec(), "VAE checkpoint ", path_.string(), " holds a ", describe(stored.spec),
                "; expected a ", describe(vae.spec()));
    torch::serialize::InputArchive model_archive, optimizer_archive;
    LOUPE_CHECK(archive_.try_read("model", model_archive), "VAE checkpoint ", path_.string(), ": no model state");
    const bool has_optimizer = optimizer && archive_.try_read("optimizer", optimizer_archive);
    try {
      vae.load(model_archive);
      if (has_optimizer) optimizer->load(optimizer_archive);
    } catch (const c10::Error& e) {
      fail("VAE checkpoint ", path_.string(), ": its state does not fit a ", describe(vae.spec()), " (", first_line(e),
           ")");
    }
    return stored;
  }

 private:
  fs::path path_;
  torch::serialize::InputArchive archive_;
};

}  // namespace

void save_vae_checkpoint(const fs::path& path, VaeImpl& vae, torch::optim::Optimizer* optimizer, int64_t step,
                         const std::string& extra_json) {
  torch::serialize::OutputArchive archive;
  archive.write("loupe_checkpoint", c10::IValue(kVaeFormatVersion));
  archive.write("arch", c10::IValue(std::string(kArch)));
  archive.write("in_channels", c10::IValue(vae.spec().channels));
  archive.write("latents", c10::IValue(vae.spec().latents));
  archive.write("likelihood", c10::IValue(likelihood_name(vae.spec().likelihood)));
  archive.write("step", c10::IValue(step));
  archive.write("extra_json", c10::IValue(extra_json));
  torch::serialize::OutputArchive model_archive(archive.compilation_unit());
  vae.save(model_archive);
  archive.write("model", model_archive);
  if (optimizer) {
    torch::serialize::OutputArchive optimizer_archive(archive.compilation_unit());
    optimizer->save(optimizer_archive);
    archive.write("optimizer", optimizer_archive);
  }
  std::ostringstream bytes;  // in memory first: the file on disk is only ever complete
  archive.save_to(bytes);
  write_file_atomic(path, bytes.str());
}

VaeCheckpointInfo read_vae_checkpoint_info(const fs::path& path) { return Reader(path, torch::kCPU).info(); }

VaeCheckpointInfo load_vae_checkpoint(const fs::path& path, VaeImpl& vae, torch::optim::Optimizer* optimizer) {
  return Reader(path, device_of(vae)).load_into(vae, optimizer);
}

Vae load_vae(const fs::path& path, VaeCheckpointInfo* info) {
  Reader reader(path, torch::kCPU);
  Vae vae(reader.info().spec);
  const VaeCheckpointInfo loaded = reader.load_into(*vae, nullptr);
  if (info) *info = loaded;
  return vae;
}

}  // namespace loupe
