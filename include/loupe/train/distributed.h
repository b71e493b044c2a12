// Data-parallel training across processes on PyTorch's c10d: the rendezvous torchrun and
// Slurm describe in the environment, a TCPStore served by rank 0 and a Gloo process group.
// As DistributedDataParallel: parameters and buffers broadcast from rank 0, gradients
// averaged in ~25 MB buckets before every optimiser step (after backward, not overlapped
// with it), each epoch's order split as torch's DistributedSampler does. BatchNorm keeps
// per-rank batch statistics (no SyncBatchNorm), as DDP does by default.
#pragma once

#include <torch/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace loupe {

// Who this process is and where rank 0 listens.
struct Rendezvous {
  std::string master_addr;  // MASTER_ADDR
  int port = 0;             // MASTER_PORT
  int rank = 0;             // RANK, else SLURM_PROCID
  int world_size = 1;       // WORLD_SIZE, else SLURM_NTASKS
  int local_rank = 0;       // LOCAL_RANK, else SLURM_LOCALID, else 0: the CUDA device on a node
  std::string endpoint() const { return master_addr + ":" + std::to_string(port); }
};

// The variables above from `env`; an error names a variable that is missing or malformed
// (and every one missing when none is set).
Rendezvous rendezvous_from(const std::map<std::string, std::string>& env);
// The same from this process's environment.
Rendezvous rendezvous_from_environment();

// The positions of an epoch's `order` that `rank` of `world_size` trains on, as torch's
// DistributedSampler (drop_last=false): the order padded to a multiple of world_size by
// repeating its start, then positions rank, rank + W, rank + 2W, ... Every rank gets
// ceil(n / W) of them, so every rank takes the same number of steps.
torch::Tensor distributed_share(const torch::Tensor& order, int rank, int world_size);

// True when loupe was built with c10d's Gloo backend (the headers of libgloo-dev).
bool distributed_available();

// One process's membership of the training group. Every collective is entered by every
// rank in the same order; one that fails (a rank died, or none answered within the
// timeout) throws a loupe::Error naming this rank.
class ProcessGroup {
 public:
  static constexpr int64_t kBucketBytes = 25 << 20;  // DDP's default bucket_cap_mb

  // Joins at r.endpoint() within `timeout` (Gloo on the CPU; CUDA needs a LibTorch with
  // NCCL); collectives then fail after `timeout` too.
  ProcessGroup(const Rendezvous& r, torch::Device device, std::chrono::milliseconds timeout);
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int rank() const;
  int world_size() const;
  bool is_main() const { return rank() == 0; }

  // In place: every rank's tensors become rank `root`'s (same shapes and dtypes on all).
  void broadcast(const std::vector<torch::Tensor>& tensors, int root = 0);
  // Each parameter's gradient becomes its mean over the ranks, one allreduce per bucket
  // of kBucketBytes. A parameter with a gradient on some ranks only is averaged with
  // zeros for the others (DDP's unused parameters); one with a gradient on none keeps none.
  void average_gradients(const std::vector<torch::Tensor>& parameters);
  // In place: the sum over ranks.
  void all_reduce_sum(const torch::Tensor& tensor);
  // Every rank's `tensor` (equal shapes), concatenated along dim 0 in rank order.
  torch::Tensor all_gather(const torch::Tensor& tensor);
  void barrier();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace loupe
