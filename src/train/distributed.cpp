#include "loupe/train/distributed.h"

#include <torch/torch.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <exception>
#include <limits>
#include <utility>

#include "loupe/core/error.h"

// c10d's Gloo header compiles only with USE_C10D_GLOO, a macro of PyTorch's own build that
// TorchConfig does not export; CMake sets LOUPE_HAVE_C10D when the gloo headers exist.
#if defined(LOUPE_HAVE_C10D)
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO 1
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
// NCCL only where the LibTorch was built with it and says so (Debian's 1.13 is CPU-only).
#if defined(USE_C10D_NCCL) && __has_include(<torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>)
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#define LOUPE_HAVE_NCCL 1
#endif
#endif

namespace loupe {
namespace {

constexpr const char* kLaunchHint = "launch with torchrun, srun, or set them yourself (see docs/distributed.md)";

// A whole number in [lo, hi] from variable `name`, or an error naming it.
int64_t env_integer(const std::string& name, const std::string& text, int64_t lo, int64_t hi, const char* expected) {
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  LOUPE_CHECK(!text.empty() && end == text.c_str() + text.size() && errno == 0 && v >= lo && v <= hi, name, " '", text,
              "': expected ", expected);
  return v;
}

// The first of `names` that is set in `env`, with its name; empty when none is.
std::pair<std::string, std::string> first_set(const std::map<std::string, std::string>& env,
                                              std::initializer_list<const char*> names) {
  for (const char* name : names) {
    const auto it = env.find(name);
    if (it != env.end()) return {name, it->second};
  }
  return {};
}

}  // namespace

Rendezvous rendezvous_from(const std::map<std::string, std::string>& env) {
  const auto addr = first_set(env, {"MASTER_ADDR"}), port = first_set(env, {"MASTER_PORT"});
  const auto rank = first_set(env, {"RANK", "SLURM_PROCID"}), world = first_set(env, {"WORLD_SIZE", "SLURM_NTASKS"});
  std::vector<std::string> missing;
  if (addr.first.empty()) missing.push_back("MASTER_ADDR");
  if (port.first.empty()) missing.push_back("MASTER_PORT");
  if (rank.first.empty()) missing.push_back("RANK (or SLURM_PROCID)");
  if (world.first.empty()) missing.push_back("WORLD_SIZE (or SLURM_NTASKS)");
  LOUPE_CHECK(missing.empty(), "distributed training reads its rendezvous from the environment, but ",
              join_names(missing), missing.size() == 1 ? " is" : " are", " not set; ", kLaunchHint);
  LOUPE_CHECK(!addr.second.empty(), "MASTER_ADDR is empty: expected the host name or address of rank 0");
  Rendezvous r;
  r.master_addr = addr.second;
  r.port = static_cast<int>(env_integer(port.first, port.second, 1, 65535, "a port number in 1..65535"));
  r.world_size = static_cast<int>(
      env_integer(world.first, world.second, 1, std::numeric_limits<int>::max(), "a whole number of ranks >= 1"));
  r.rank = static_cast<int>(env_integer(rank.first, rank.second, 0, r.world_size - 1,
                                        ("a whole number in [0, " + world.first + " " + world.second + ")").c_str()));
  const auto local = first_set(env, {"LOCAL_RANK", "SLURM_LOCALID"});
  if (!local.first.empty())
    r.local_rank = static_cast<int>(
        env_integer(local.first, local.second, 0, std::numeric_limits<int>::max(), "a whole number >= 0"));
  return r;
}

Rendezvous rendezvous_from_environment() {
  std::map<std::string, std::string> env;
  for (const char* name : {"MASTER_ADDR", "MASTER_PORT", "RANK", "SLURM_PROCID", "WORLD_SIZE", "SLURM_NTASKS",
                           "LOCAL_RANK", "SLURM_LOCALID"})
    if (const char* v = std::getenv(name)) env[name] = v;
  return rendezvous_from(env);
}

torch::Tensor distributed_share(const torch::Tensor& order, int rank, int world_size) {
  LOUPE_CHECK(world_size >= 1 && rank >= 0 && rank < world_size, "distributed share: rank ", rank, " of ", world_size,
              ": expected 0 <= rank < world size");
  const int64_t n = order.size(0);
  if (world_size == 1) return order;
  LOUPE_CHECK(n >= 1, "distributed share: the epoch is empty");
  const int64_t per_rank = (n + world_size - 1) / world_size, padding = per_rank * world_size - n;
  // torch's DistributedSampler repeats the start of the order (several times if n < W).
  torch::Tensor padded = order;
  while (padded.size(0) < n + padding)
    padded = torch::cat({padded, order.slice(0, 0, std::min(n, n + padding - padded.size(0)))});
  return padded.slice(0, rank, padded.size(0), world_size);
}

#if defined(LOUPE_HAVE_C10D)

bool distributed_available() { return true; }

namespace {

// The gist of a c10d/gloo failure: c10::Error's message without its backtrace, first line.
std::string failure_text(const std::exception& e) {
  const auto* c10_error = dynamic_cast<const c10::Error*>(&e);
  std::string text = c10_error ? c10_error->what_without_backtrace() : e.what();
  const auto newline = text.find('\n');
  if (newline != std::string::npos) text.resize(newline);
  return text;
}

bool is_loopback(const std::string& host) { return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0; }

// Gloo's network device, as torch.distributed picks it: GLOO_SOCKET_IFNAME's interfaces;
// loopback when rank 0 is on this machine's loopback (one-machine runs); else the address
// this host's name resolves to.
std::vector<std::shared_ptr<::gloo::transport::Device>> gloo_devices(const Rendezvous& r) {
  std::vector<std::shared_ptr<::gloo::transport::Device>> devices;
  if (const char* names = std::getenv("GLOO_SOCKET_IFNAME"); names && *names) {
    std::string list = names;
    for (size_t start = 0; start <= list.size();) {
      const size_t end = std::min(list.find(',', start), list.size());
      if (end > start)
        devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(list.substr(start, end - start)));
      start = end + 1;
    }
  } else if (is_loopback(r.master_addr)) {
    devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
  } else {
    devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  }
  return devices;
}

// Consecutive tensors of one dtype and device packed into flat buffers of at most
// ProcessGroup::kBucketBytes (a tensor larger than that gets a bucket of its own).
struct Bucket {
  std::vector<size_t> members;  // indices into the tensor list
  std::vector<int64_t> offsets;
  int64_t numel = 0;
  torch::TensorOptions options;
};

std::vector<Bucket> make_buckets(const std::vector<torch::Tensor>& tensors) {
  std::vector<Bucket> buckets;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto& t = tensors[i];
    const auto options = t.options().layout(torch::kStrided).requires_grad(false);
    const bool fits =
        !buckets.empty() && buckets.back().options.dtype() == options.dtype() &&
        buckets.back().options.device() == options.device() &&
        (buckets.back().numel + t.numel()) * static_cast<int64_t>(t.element_size()) <= ProcessGroup::kBucketBytes;
    if (!fits) buckets.push_back({{}, {}, 0, options});
    auto& b = buckets.back();
    b.members.push_back(i);
    b.offsets.push_back(b.numel);
    b.numel += t.numel();
  }
  return buckets;
}

}  // namespace

struct ProcessGroup::Impl {
  Rendezvous rendezvous;
  std::chrono::milliseconds timeout{0};
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> gloo;
#if defined(LOUPE_HAVE_NCCL)
  c10::intrusive_ptr<c10d::ProcessGroupNCCL> nccl;
#endif
  bool failed = false;

  [[noreturn]] void fail_with(const char* what, const std::exception& e) {
    failed = true;
    fail("distributed training: ", what, " failed on rank ", rendezvous.rank, " of ", rendezvous.world_size,
         " (another rank exited, or none answered within --dist-timeout ", timeout.count() / 1000.0,
         " s): ", failure_text(e));
  }
  // Starts f(backend) on whichever backend this group runs; returns its Work.
  template <class F>
  c10::intrusive_ptr<c10d::Work> launch(const char* what, F&& f) {
    try {
#if defined(LOUPE_HAVE_NCCL)
      if (nccl) return f(*nccl);
#endif
      return f(*gloo);
    } catch (const std::exception& e) {
      fail_with(what, e);
    }
  }
  void wait(const c10::intrusive_ptr<c10d::Work>& work, const char* what) {
    try {
      work->wait(timeout);
    } catch (const std::exception& e) {
      fail_with(what, e);
    }
  }
  template <class F>
  void run(const char* what, F&& f) {
    wait(launch(what, std::forward<F>(f)), what);
  }
};

ProcessGroup::ProcessGroup(const Rendezvous& r, torch::Device device, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>()) {
  LOUPE_CHECK(r.world_size >= 1 && r.rank >= 0 && r.rank < r.world_size, "distributed training: RANK ", r.rank,
              ": expected a whole number in [0, WORLD_SIZE ", r.world_size, ")");
  LOUPE_CHECK(timeout.count() > 0, "distributed timeout ", timeout.count(), " ms: expected a positive time");
#if !defined(LOUPE_HAVE_NCCL)
  LOUPE_CHECK(!device.is_cuda(), "distributed training on ", device.str(),
              " needs c10d's NCCL backend, and the LibTorch loupe was built with has none (Debian's libtorch 1.13 is "
              "CPU-only); use --device cpu, or rebuild loupe against a CUDA LibTorch with USE_C10D_NCCL defined");
#endif
  impl_->rendezvous = r;
  impl_->timeout = timeout;
  const double seconds = timeout.count() / 1000.0;
  c10d::TCPStoreOptions store_options;
  store_options.port = static_cast<uint16_t>(r.port);
  store_options.isServer = r.rank == 0;
  store_options.numWorkers = static_cast<size_t>(r.world_size);
  store_options.waitWorkers = true;
  store_options.timeout = timeout;
  try {
    impl_->store = c10::make_intrusive<c10d::TCPStore>(r.master_addr, store_options);
  } catch (const std::exception& e) {
    if (r.rank == 0)
      fail("distributed training: rank 0 could not serve the rendezvous at MASTER_ADDR:MASTER_PORT ", r.endpoint(),
           ", or not all ", r.world_size, " ranks joined it within --dist-timeout ", seconds, " s: ", failure_text(e));
    fail("distributed training: rank ", r.rank, " could not reach the rendezvous at MASTER_ADDR:MASTER_PORT ",
         r.endpoint(), " within --dist-timeout ", seconds, " s (is rank 0 running there?): ", failure_text(e));
  }
  try {
#if defined(LOUPE_HAVE_NCCL)
    if (device.is_cuda()) {
      auto options = c10d::ProcessGroupNCCL::Options::create();
      options->timeout = timeout;
      impl_->nccl = c10::make_intrusive<c10d::ProcessGroupNCCL>(impl_->store, r.rank, r.world_size, options);
      return;
    }
#endif
    auto options = c10d::ProcessGroupGloo::Options::create(timeout);
    options->devices = gloo_devices(r);
    options->threads = 2;
    impl_->gloo = c10::make_intrusive<c10d::ProcessGroupGloo>(impl_->store, r.rank, r.world_size, options);
  } catch (const std::exception& e) {
    fail("distributed training: rank ", r.rank, " of ", r.world_size, " could not connect to the other ranks within ",
         "--dist-timeout ", seconds, " s (rendezvous at ", r.endpoint(), "): ", failure_text(e));
  }
}

ProcessGroup::~ProcessGroup() {
  // After a failed collective, c10d's destructors join worker threads that may still wait
  // on a dead peer; the process is about to exit with the error, so they are let go.
  if (impl_ && impl_->failed) {
    (void)impl_->gloo.release();
#if defined(LOUPE_HAVE_NCCL)
    (void)impl_->nccl.release();
#endif
    (void)impl_->store.release();
  }
}

int ProcessGroup::rank() const { return impl_->rendezvous.rank; }
int ProcessGroup::world_size() const { return impl_->rendezvous.world_size; }

void ProcessGroup::broadcast(const std::vector<torch::Tensor>& tensors, int root) {
  if (world_size() == 1 || tensors.empty()) return;
  torch::NoGradGuard no_grad;
  for (const auto& bucket : make_buckets(tensors)) {
    auto flat = torch::empty({bucket.numel}, bucket.options);
    if (rank() == root)
      for (size_t k = 0; k < bucket.members.size(); ++k) {
        const auto& t = tensors[bucket.members[k]];
        flat.slice(0, bucket.offsets[k], bucket.offsets[k] + t.numel()).copy_(t.reshape({-1}));
      }
    std::vector<torch::Tensor> io{flat};
    c10d::BroadcastOptions options;
    options.rootRank = root;
    impl_->run("broadcast", [&](auto& backend) { return backend.broadcast(io, options); });
    if (rank() != root)
      for (size_t k = 0; k < bucket.members.size(); ++k) {
        const auto& t = tensors[bucket.members[k]];
        t.copy_(flat.slice(0, bucket.offsets[k], bucket.offsets[k] + t.numel()).view(t.sizes()));
      }
  }
}

void ProcessGroup::average_gradients(const std::vector<torch::Tensor>& parameters) {
  if (world_size() == 1) return;
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> params;
  for (const auto& p : parameters)
    if (p.requires_grad()) params.push_back(p);
  if (params.empty()) return;
  // How many ranks have a gradient for each parameter: summed alongside the gradients.
  std::vector<float> has_grad(params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    const auto& g = params[i].grad();
    LOUPE_CHECK(!g.defined() || g.layout() == torch::kStrided,
                "distributed training: sparse gradients are not supported");
    has_grad[i] = g.defined() ? 1.f : 0.f;
  }
  const auto buckets = make_buckets(params);
  std::vector<torch::Tensor> flats;
  for (const auto& bucket : buckets) {
    auto flat = torch::zeros({bucket.numel}, bucket.options);
    for (size_t k = 0; k < bucket.members.size(); ++k) {
      const auto& g = params[bucket.members[k]].grad();
      if (g.defined()) flat.slice(0, bucket.offsets[k], bucket.offsets[k] + g.numel()).copy_(g.reshape({-1}));
    }
    flats.push_back(flat);
  }
  flats.push_back(torch::tensor(has_grad).to(params.front().device()));
  // Every bucket is sent before the first is waited on, so Gloo's threads overlap them.
  std::vector<std::vector<torch::Tensor>> io;
  for (const auto& flat : flats) io.push_back({flat});
  std::vector<c10::intrusive_ptr<c10d::Work>> pending;
  for (auto& tensors : io)
    pending.push_back(impl_->launch("gradient allreduce", [&](auto& backend) { return backend.allreduce(tensors); }));
  for (const auto& work : pending) impl_->wait(work, "gradient allreduce");
  const auto ranks_with_grad = flats.back().cpu();
  const float* with_grad = ranks_with_grad.data_ptr<float>();
  const double w = static_cast<double>(world_size());
  for (size_t b = 0; b < buckets.size(); ++b) {
    flats[b].div_(w);
    for (size_t k = 0; k < buckets[b].members.size(); ++k) {
      const size_t i = buckets[b].members[k];
      if (with_grad[i] == 0) continue;
      auto& p = params[i];
      const auto mean = flats[b].slice(0, buckets[b].offsets[k], buckets[b].offsets[k] + p.numel()).view(p.sizes());
      if (p.grad().defined())
        p.mutable_grad().copy_(mean);
      else
        p.mutable_grad() = mean.clone();
    }
  }
}

void ProcessGroup::all_reduce_sum(const torch::Tensor& tensor) {
  if (world_size() == 1) return;
  LOUPE_CHECK(tensor.is_contiguous(), "distributed training: all_reduce_sum needs a contiguous tensor");
  std::vector<torch::Tensor> io{tensor};
  impl_->run("allreduce", [&](auto& backend) { return backend.allreduce(io); });
}

torch::Tensor ProcessGroup::all_gather(const torch::Tensor& tensor) {
  if (world_size() == 1) return tensor;
  std::vector<torch::Tensor> input{tensor.contiguous()};
  std::vector<std::vector<torch::Tensor>> output(1);
  for (int r = 0; r < world_size(); ++r) output[0].push_back(torch::empty_like(input[0]));
  impl_->run("allgather", [&](auto& backend) { return backend.allgather(output, input); });
  return torch::cat(output[0]);
}

void ProcessGroup::barrier() {
  if (world_size() == 1) return;
  impl_->run("barrier", [&](auto& backend) { return backend.barrier(); });
}

#else  // no c10d

bool distributed_available() { return false; }

struct ProcessGroup::Impl {};

ProcessGroup::ProcessGroup(const Rendezvous&, torch::Device, std::chrono::milliseconds) {
  fail(
      "distributed training needs c10d's Gloo backend, and this loupe was built without it (the gloo headers were "
      "not found); install libgloo-dev (scripts/setup.sh) and rebuild");
}
ProcessGroup::~ProcessGroup() = default;
int ProcessGroup::rank() const { return 0; }
int ProcessGroup::world_size() const { return 1; }
void ProcessGroup::broadcast(const std::vector<torch::Tensor>&, int) {}
void ProcessGroup::average_gradients(const std::vector<torch::Tensor>&) {}
void ProcessGroup::all_reduce_sum(const torch::Tensor&) {}
torch::Tensor ProcessGroup::all_gather(const torch::Tensor& tensor) { return tensor; }
void ProcessGroup::barrier() {}

#endif

}  // namespace loupe
