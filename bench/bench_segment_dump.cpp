// Writes loupe's superpixels of one photo as .npy for a comparison with scikit-image
// (scripts/compare_segmentation.py): quickshift with LIME's defaults (as scikit-image
// labels, and with --connect's split), SLIC with 100 segments; also its Lab image and
// shap's default blur(128,128) fill (a box blur) for a comparison with OpenCV.
// Usage: loupe_bench_segment_dump IMAGE SIZE OUT_DIR
#include <torch/torch.h>

#include <iostream>

#include "loupe/core/blur.h"
#include "loupe/core/device.h"
#include "loupe/core/image.h"
#include "loupe/core/npy.h"
#include "loupe/explain/segmentation.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: loupe_bench_segment_dump IMAGE SIZE OUT_DIR\n";
    return 2;
  }
  loupe::init_threads();
  const auto image =
      loupe::load_image(argv[1], loupe::ImageLoadOptions().set_channels(3).set_size(std::atoll(argv[2])));
  const loupe::fs::path out = argv[3];
  loupe::fs::create_directories(out);
  const auto q = loupe::quickshift(image);
  const auto qc = loupe::quickshift(image, loupe::QuickshiftOptions().set_connect(true));
  const auto s = loupe::slic(image, loupe::SlicOptions().set_n_segments(100));
  loupe::write_npy(out / "image.npy", image);
  loupe::write_npy(out / "quickshift.npy", q);
  loupe::write_npy(out / "quickshift_connected.npy", qc);
  loupe::write_npy(out / "slic.npy", s);
  loupe::write_npy(out / "blur128.npy", loupe::box_blur(image, 128, 128));  // shap's blur(128,128)
  loupe::write_npy(out / "lab.npy", loupe::rgb_to_lab(image.to(torch::kDouble)));
  std::cout << "quickshift " << q.max().item<int64_t>() + 1 << " (connected " << qc.max().item<int64_t>() + 1
            << "), slic " << s.max().item<int64_t>() + 1 << " segments\n";
}
