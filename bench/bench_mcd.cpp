// The robust (MCD) fit against scikit-learn's MinCovDet on the same data: how many samples
// each keeps. bench_mcd DATA.npy [seeds]: DATA is float64 [N,L] (scripts/compare_mcd.py
// writes it and runs MinCovDet). Prints loupe's support size per seed.
#include <torch/torch.h>

#include <iostream>

#include "loupe/anomaly/mahalanobis.h"
#include "loupe/core/device.h"
#include "loupe/core/npy.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: bench_mcd DATA.npy [seeds]\n";
    return 2;
  }
  loupe::init_threads();
  const auto x = loupe::read_npy(argv[1]).to(torch::kDouble);
  const int seeds = argc > 2 ? std::atoi(argv[2]) : 5;
  std::cout << "loupe MCD support (N = " << x.size(0) << ", L = " << x.size(1) << "):";
  for (int seed = 0; seed < seeds; ++seed) {
    const auto fit = loupe::fit_gaussian(x, loupe::GaussianFitOptions().set_robust(true).set_seed(seed));
    std::cout << " " << fit.support.sum().item<int64_t>();
  }
  std::cout << "\n";
}
