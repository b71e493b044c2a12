// loupe train
#include <torch/torch.h>

#include <chrono>
#include <iomanip>
#include <iostream>
#include <optional>

#include "common.h"
#include "data_flags.h"
#include "loupe/cli.h"
#include "loupe/core/error.h"
#include "loupe/core/output_dir.h"
#include "loupe/data/registry.h"
#include "loupe/models/checkpoint.h"
#include "loupe/report/report.h"
#include "loupe/train/classifier.h"
#include "loupe/train/distributed.h"
#include "objective_flags.h"

namespace loupe::cli {

Runner add_train_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "train", "Train a classifier from the zoo (or fine-tune a TorchScript model) on a named dataset");
  cmd->footer(
      "Examples:\n  loupe train --data coloured-fashion-mnist --model small_cnn --epochs 1 --out lazy.pt\n"
      "  loupe train --data coloured-fashion-mnist --objective edge-saliency --lambda 1 --epochs 3 --out edges.pt\n"
      "  torchrun --nproc-per-node 2 --no-python loupe train --distributed --data coloured-fashion-mnist "
      "--out ddp.pt   (see docs/distributed.md)");
  struct Flags {
    CommonFlags common{"auto", 0, "model.pt"};
    DataFlags data;
    std::string model = "small_cnn", optimizer = "adam";
    double lr = 1e-3;
    int64_t epochs = 1, batch = 128, train_images = 0;
    bool resume = false, distributed = false;
    double dist_timeout = 300;
    std::string objective = "ce";
    ObjectiveFlags objective_flags;
  };
  auto f = std::make_shared<Flags>();
  add_data_flags(cmd, f->data);
  cmd->add_option("--model", f->model,
                  "a zoo architecture, or a TorchScript file to fine-tune (its checkpoint refers to the file, which "
                  "must stay; a traced module keeps the train/eval behaviour it was traced in)")
      ->check(zoo_or_torchscript())
      ->capture_default_str();
  cmd->add_option("--optimizer", f->optimizer, "adam or sgd (momentum 0.9)")
      ->check(CLI::IsMember({"adam", "sgd"}))
      ->capture_default_str();
  cmd->add_option("--lr", f->lr, "learning rate")->capture_default_str();
  cmd->add_option("--epochs", f->epochs, "epochs")->capture_default_str();
  cmd->add_option("--batch", f->batch, "batch size (per rank with --distributed)")->capture_default_str();
  cmd->add_option("--train-images", f->train_images, "use only the first N training images (0 = all)")
      ->capture_default_str();
  cmd->add_flag("--resume", f->resume,
                "continue from the checkpoint at --out if it exists (with any number of ranks: its epochs carry over)");
  cmd->add_flag("--distributed", f->distributed,
                "data-parallel training, one process per rank, with the rendezvous torchrun or Slurm sets: "
                "MASTER_ADDR, MASTER_PORT, RANK or SLURM_PROCID, WORLD_SIZE or SLURM_NTASKS (Gloo on the CPU); "
                "rank 0 writes --out; OMP_NUM_THREADS, if set, is each rank's thread count");
  cmd->add_option("--dist-timeout", f->dist_timeout,
                  "seconds to wait for the other ranks (rendezvous and every collective) before failing")
      ->capture_default_str();
  cmd->add_option("--objective", f->objective,
                  "ce (cross-entropy), focal (CE·(1-p)^gamma), input-grad (CE + lambda·|grad_x CE|^2), edge-saliency "
                  "(CE + lambda·saliency off the Sobel edges), occlusion (a random black square per image) or "
                  "adversarial (CE on L-inf PGD examples), or jtt (Just Train Twice: retrain with the images a "
                  "first model misclassifies up-weighted) or lff (Learning from Failure: a biased model trained "
                  "with generalised CE weights the debiased model's samples)")
      ->check(CLI::IsMember(train_objective_names()))
      ->capture_default_str();
  add_objective_flags(cmd, f->objective_flags);
  add_common_flags(cmd, f->common, "checkpoint file (written atomically after every epoch)");
  return [f] {
    check_common_flags(f->common);
    check_data_flags(f->data);
    check_positive("--lr", f->lr);
    check_count("--epochs", f->epochs, 1, 10000);
    check_count("--batch", f->batch, 1, 65536);
    check_count("--train-images", f->train_images, 0, kNoLimit, "0 = all");
    auto& objective = f->objective_flags.o;
    objective.set_objective(parse_train_objective(f->objective, "--objective"));
    check_objective_flags(f->objective_flags);
    if (objective.objective == TrainObjective::kAdversarial)
      objective.loss.set_adversary(pgd_adversary(f->objective_flags.adv_eps, f->objective_flags.adv_steps));
    const fs::path checkpoint = f->common.out;
    LOUPE_CHECK(!fs::is_directory(checkpoint), "--out ", checkpoint.string(),
                ": is a folder; expected the checkpoint file to write, e.g. ", (checkpoint / "model.pt").string());
    check_positive("--dist-timeout", f->dist_timeout, 86400);
    auto device = resolve_device(f->common.device);
    std::optional<Rendezvous> rendezvous;
    if (f->distributed) {
      rendezvous = rendezvous_from_environment();
      // torchrun and srun start one process per device: LOCAL_RANK picks it.
      if (device.is_cuda()) device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(rendezvous->local_rank));
    }
    const bool main_rank = !rendezvous || rendezvous->rank == 0;
    // One training per checkpoint at a time; creating the lock also proves the folder
    // writable. Rank 0 alone writes --out, so it alone locks it.
    fs::path lock_file = checkpoint;
    lock_file += ".lock";
    std::optional<FileLock> lock;
    if (main_rank) lock.emplace(lock_file, "--out " + checkpoint.string());
    std::shared_ptr<ProcessGroup> group;
    if (rendezvous)
      group = std::make_shared<ProcessGroup>(*rendezvous, device,
                                             std::chrono::milliseconds(static_cast<int64_t>(f->dist_timeout * 1000)));
    const auto seed = static_cast<uint64_t>(f->common.seed);
    seed_everything(seed);
    auto splits = load_data(f->data, seed);
    std::shared_ptr<TensorDataset> train = splits.train;
    if (f->train_images > 0 && f->train_images < train->size())
      train = std::make_shared<TensorDataset>(train->subset(torch::arange(f->train_images, torch::kLong)));
    ModelSpec spec{f->model, train->image_shape()[0], train->num_classes()};
    if (!is_zoo_model(f->model))
      spec = {fs::absolute(f->model).string(), spec.in_channels, spec.num_classes, train->image_shape()[1]};
    auto model = make_model(spec);
    model->to(device);
    TrainOptions t;
    t.set_optimizer(f->optimizer).set_lr(f->lr);
    t.epochs = f->epochs;
    t.batch_size = f->batch;
    t.seed = seed;
    t.checkpoint = checkpoint;
    t.resume = f->resume;
    t.group = group;
    const auto* val = splits.validation.get();
    const auto result = train_with_objective(*model, spec, *train, val, t, device, objective);
    if (!main_rank) return;
    const auto& last = result.history.back();
    std::cout << "trained " << spec.arch << " on " << f->data.name << ": validation accuracy " << std::fixed
              << std::setprecision(4) << last.value("val_accuracy") << " after " << last.epoch << " epoch(s); "
              << static_cast<int64_t>(result.images_seen / std::max(1e-9, result.train_seconds)) << " images/s\n"
              << "checkpoint: " << f->common.out << "\n";
  };
}

}  // namespace loupe::cli
