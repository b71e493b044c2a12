#include "loupe/core/device.h"

#include <dlfcn.h>
#if defined(__GLIBC__)
#include <malloc.h>
#include <sched.h>
#endif

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "loupe/core/compat.h"
#include "loupe/core/error.h"

namespace loupe {

#if !LOUPE_TORCH2
namespace {
// LibTorch 1.13 logs "scatter_reduce() is in beta" (through glog, looking like an
// error) the first time the segmentation code uses it; 2.x no longer does. This drops
// that one message and hands every other warning to the previous handler.
class QuietScatterReduceWarning : public c10::WarningHandler {
 public:
  explicit QuietScatterReduceWarning(c10::WarningHandler* next) : next_(next) {}
  void process(const c10::SourceLocation& where, const std::string& msg, const bool verbatim) override {
    if (msg.find("scatter_reduce() is in beta") != std::string::npos) return;
    next_->process(where, msg, verbatim);
  }

 private:
  c10::WarningHandler* next_;
};
}  // namespace
#endif

torch::Device resolve_device(const std::string& spec) {
  if (spec == "auto") return torch::cuda::is_available() ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
  if (spec == "cpu") return torch::Device(torch::kCPU);
  if (spec.rfind("cuda", 0) == 0) {
    LOUPE_CHECK(torch::cuda::is_available(), "--device ", spec,
                ": CUDA is not available on this machine (no GPU or a CPU-only LibTorch); use --device cpu or auto");
    torch::Device device(torch::kCPU);
    try {
      device = torch::Device(spec);
    } catch (const c10::Error&) {
      fail("--device ", spec, ": expected auto, cpu, cuda or cuda:N");
    }
    LOUPE_CHECK(!device.has_index() || device.index() < static_cast<int>(torch::cuda::device_count()), "--device ",
                spec, ": only ", torch::cuda::device_count(), " CUDA device(s) present");
    return device;
  }
  fail("--device ", spec, ": expected auto, cpu, cuda or cuda:N");
}

namespace {
std::atomic<bool> auto_init_enabled{true};
std::once_flag auto_init_once;
}  // namespace

void set_auto_init(bool enabled) { auto_init_enabled = enabled; }

void ensure_initialised() {
  if (!auto_init_enabled) return;
  std::call_once(auto_init_once, [] {
    const char* off = std::getenv("LOUPE_NO_AUTO_INIT");
    if (off && *off && std::string(off) != "0") return;
    if (auto_init_enabled) init_threads();
  });
}

void set_threads(int n) {
  torch::set_num_threads(std::max(1, n));
  // Subnormal floats are ~10x slower on x86, and training a small CNN on coloured
  // images makes some (measured: 10% faster training on ColouredFashionMNIST).
  // Flush them to zero on every intra-op thread: the flag is per thread, and ATen's
  // parallel_for hands one chunk to each thread when the range equals the pool size.
  const int64_t threads = torch::get_num_threads();
  at::parallel_for(0, threads, 1, [](int64_t, int64_t) { at::globalContext().setFlushDenormal(true); });
  at::globalContext().setFlushDenormal(true);
}

int default_threads() {
  // OMP_NUM_THREADS, as PyTorch honours it: processes sharing a machine (shards of an
  // audit, ranks of a training) each take their part. A malformed value is ignored, as
  // OpenMP ignores it.
  if (const char* text = std::getenv("OMP_NUM_THREADS"); text && *text) {
    char* end = nullptr;
    const long n = std::strtol(text, &end, 10);
    if (*end == '\0' && n >= 1 && n <= 4096) return static_cast<int>(n);
  }
  // The cores this process may run on (taskset, cgroup cpusets such as Slurm's), not
  // the machine's.
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

void init_threads() {
  set_threads(default_threads());
  // OpenBLAS (Debian's BLAS behind LibTorch) keeps its own thread pool, which
  // oversubscribes the cores under LibTorch's threads: one BLAS thread made a
  // FashionMNIST epoch 19% faster on 2 cores. Looked up at run time so loupe
  // neither links OpenBLAS nor needs it (a reference BLAS or MKL is left alone).
  using SetThreads = void (*)(int);
  if (auto set = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) set(1);
#if defined(__GLIBC__)
  // glibc serves blocks above its mmap threshold (128 KiB at start, raised only as such
  // blocks are freed) by mmap and returns freed heap tops to the kernel past 128 KiB, so
  // every forward pass of a batch faulted in fresh zeroed pages for its activations:
  // small_cnn at batch 128 ran at 1,000 images/s instead of 5,400 (2 cores). Keep
  // blocks up to 256 MiB on the heap and trim it only past 512 MiB.
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
#endif
#if !LOUPE_TORCH2
  static QuietScatterReduceWarning quiet(c10::Warning::get_warning_handler());
  if (c10::Warning::get_warning_handler() != &quiet) c10::Warning::set_warning_handler(&quiet);
#endif
}

void seed_everything(uint64_t seed) {
  torch::manual_seed(seed);
  if (torch::cuda::is_available()) torch::cuda::manual_seed_all(seed);
}

torch::Generator make_generator(uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  return gen;
}

}  // namespace loupe
