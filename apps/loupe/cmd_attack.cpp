// loupe attack: targeted adversarial examples for image files (studies/attack_images.h)
#include <torch/torch.h>

#include <iostream>

#include "common.h"
#include "loupe/cli.h"
#include "loupe/core/error.h"
#include "loupe/core/output_dir.h"
#include "loupe/data/image_folder.h"
#include "loupe/models/checkpoint.h"
#include "loupe/studies/attack_images.h"

namespace loupe::cli {

Runner add_attack_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("attack", "Targeted adversarial examples (iterative FGSM or PGD), minimal epsilon");
  cmd->footer(
      "Examples:\n  loupe attack --checkpoint lazy.pt --images digits/ --target all --eps 0.05 --out attack\n"
      "  loupe attack --checkpoint lazy.pt --images seven.png --target 3 --min-eps --max-eps 0.1 --out seven-to-3\n"
      "  loupe attack --checkpoint lazy.pt --images photos/ --method pgd --norm l2 --eps 1.0 --out pgd");
  struct Flags {
    CommonFlags common{"auto", 0, "loupe-attack"};
    ClassifierSource model;
    std::string target = "all", method = "ifgsm", norm = "linf";
    std::vector<std::string> images;
    AttackImagesOptions o;
  };
  auto f = std::make_shared<Flags>();
  add_classifier_flags(cmd, f->model);
  cmd->add_option("--images", f->images, "PNG/JPEG files or folders")->required();
  cmd->add_option("--size", f->o.size, "resize images to N x N (0 = they must share one size)")->capture_default_str();
  cmd->add_option("--target", f->target, "all (every class but the predicted one) or a class index")
      ->capture_default_str();
  cmd->add_option("--method", f->method, "ifgsm (the reference's iterative FGSM) or pgd")
      ->check(CLI::IsMember(attack_method_names()))
      ->capture_default_str();
  cmd->add_option("--norm", f->norm, "linf or l2 (pgd only)")
      ->check(CLI::IsMember(attack_norm_names()))
      ->capture_default_str();
  cmd->add_option("--eps", f->o.attack.epsilon, "radius of the perturbation (pixels in [0,1])")->capture_default_str();
  cmd->add_option("--steps", f->o.attack.steps, "steps (0 = ifgsm: Kurakin's count for eps; pgd: 40)")
      ->capture_default_str();
  cmd->add_option("--step-size", f->o.attack.step_size, "step size (0 = ifgsm 1/255, pgd 2.5 eps/steps)")
      ->capture_default_str();
  cmd->add_option("--goal", f->o.attack.goal, "a row stops once p(target) reaches this")->capture_default_str();
  cmd->add_flag("--min-eps", f->o.minimal, "also find each row's minimal epsilon by bisection (up to --max-eps)");
  cmd->add_option("--max-eps", f->o.search.max_epsilon, "--min-eps: the largest epsilon tried")->capture_default_str();
  cmd->add_option("--tolerance", f->o.search.tolerance, "--min-eps: width of the final bracket")->capture_default_str();
  cmd->add_option("--batch", f->o.attack.batch_size, "rows per forward/backward pass")->capture_default_str();
  add_common_flags(cmd, f->common, "output folder (report.html, metrics.json, adversarial/, perturbation/)");
  return [f] {
    check_common_flags(f->common);
    auto& a = f->o.attack;
    a.method = parse_attack_method(f->method, "--method");
    a.norm = parse_attack_norm(f->norm, "--norm");
    a.seed = static_cast<uint64_t>(f->common.seed);
    check_real("--eps", a.epsilon, 0, 1e6, "a radius in pixel units of [0,1]");
    check_count("--steps", a.steps, 0, 1000000, "0 = the method's default");
    check_real("--step-size", a.step_size, 0, 1e6, "0 = the method's default");
    check_real("--goal", a.goal, 1e-9, 1, "the target probability to reach");
    check_count("--batch", a.batch_size, 1, 65536);
    check_count("--size", f->o.size, 0, kMaxImageSide, "0 = keep the images' size");
    if (f->o.minimal) {
      check_positive("--max-eps", f->o.search.max_epsilon, 1e6);
      check_positive("--tolerance", f->o.search.tolerance, 1e6);
    }
    check_attack_options(a);
    for (const auto& p : f->images)
      for (const auto& file : list_images(p)) f->o.files.push_back(file);
    LOUPE_CHECK(!f->o.files.empty(), "--images: no PNG or JPEG images found in ", join_names(f->images));
    check_classifier_flags(f->model);
    auto source = f->model;
    source.probe_size = probe_side(f->o.size, f->o.files);
    auto [model, spec] = load_classifier(source);
    // The target is checked against the model's classes before the folder exists.
    attack_rows(f->target, torch::zeros({1}, torch::kLong), spec.num_classes);
    f->o.target = f->target;
    model->to(resolve_device(f->common.device));
    const OutputDir folder(f->common.out, OutputDirOptions().set_subfolders({"adversarial", "perturbation"}));
    f->o.out = f->common.out;
    const auto r = run_attack_images(*model, spec, f->o);
    std::cout << "attacked " << f->o.files.size() << " image(s): success rate "
              << r.metrics()["success_rate"].get<double>() << "\n"
              << "report: " << (f->o.out / "report.html").string() << "\n";
  };
}

}  // namespace loupe::cli
