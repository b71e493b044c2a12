#include <gtest/gtest.h>
#include <torch/torch.h>

#include "error_matchers.h"
#include "loupe/explain/latent_gradcam.h"

namespace loupe {
namespace {

// A 2-channel "encoder" whose tap holds the input A [N,2,2,4]; with L/R the left/right
// column halves, mu_0 = sum(A0 on L) - sum(A1 on R) and mu_1 = -mu_0. Grad-CAM weights
// of mu_0 are mean(L) = 1/2 for A0 and -mean(R) = -1/2 for A1: map = (A0 - A1)/2.
struct LeftRightEncoder : TappedModel {
  LeftRightEncoder() {
    add_stage("features", [](const torch::Tensor& x) { return x * 1.0; });
    add_stage("mu", [](const torch::Tensor& a) {
      const auto mu0 = a.select(1, 0).narrow(2, 0, 2).sum({1, 2}) - a.select(1, 1).narrow(2, 2, 2).sum({1, 2});
      return torch::stack({mu0, -mu0}, 1);
    });
  }
  std::string default_cam_tap() const override { return "features"; }
  std::string arch() const override { return "left_right_encoder"; }
};

// Channel 0 = 1 on the left half, channel 1 = 2 on the right half (image 0), and the
// mirror image (image 1: channel 0 = 1 on the right, channel 1 = 2 on the left).
torch::Tensor left_right_images() {
  auto x = torch::zeros({2, 2, 2, 4});
  x[0][0].narrow(1, 0, 2).fill_(1);
  x[0][1].narrow(1, 2, 2).fill_(2);
  x[1][0].narrow(1, 2, 2).fill_(1);
  x[1][1].narrow(1, 0, 2).fill_(2);
  return x;
}

torch::Tensor left_right_halves(float left, float right) {
  auto m = torch::full({2, 4}, right);
  m.narrow(1, 0, 2).fill_(left);
  return m;
}

}  // namespace

TEST(LatentGradCam, PositiveAndNegativePartsLandWhereTheWeightsSay) {
  LeftRightEncoder enc;
  const auto x = left_right_images();
  const auto r = latent_gradcam(enc, x, 0, LatentGradCamOptions().set_batch_size(1));
  // Image 0: map = 0.5 on the left, -1 on the right; peak 1.
  EXPECT_TRUE(torch::allclose(r.positive[0], left_right_halves(0.5f, 0.f), 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(r.negative[0], left_right_halves(0.f, 1.f), 1e-5, 1e-6));
  // Image 1: map = -1 on the left, 0.5 on the right.
  EXPECT_TRUE(torch::allclose(r.positive[1], left_right_halves(0.f, 0.5f), 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(r.negative[1], left_right_halves(1.f, 0.f), 1e-5, 1e-6));
  // mu_0: image 0 = 4 - 8, image 1 = 0 - 0.
  EXPECT_TRUE(torch::allclose(r.latent, torch::tensor({-4.f, 0.f})));
  // mu_1 = -mu_0 swaps the parts; the batch size changes nothing.
  const auto s = latent_gradcam(enc, x, 1, LatentGradCamOptions().set_batch_size(2));
  EXPECT_TRUE(torch::allclose(s.positive, r.negative, 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(s.negative, r.positive, 1e-5, 1e-6));
}

TEST(LatentGradCam, BadLatentOrTapIsAClearError) {
  LeftRightEncoder enc;
  EXPECT_LOUPE_ERROR(latent_gradcam(enc, left_right_images(), 2), "output unit 2");
  EXPECT_LOUPE_ERROR(latent_gradcam(enc, left_right_images(), 0, LatentGradCamOptions().set_tap("conv9")), "conv9");
}

}  // namespace loupe
